'use strict';
// The bytes of one connection, on their way to llhttp: every head is read by the front's
// grammar (request_head.js) and passed on rewritten in one plain spelling, bodies are passed
// on as they come once their framing is checked, and the first request the grammar refuses
// stops the stream. So llhttp only ever sees requests the front would read the same way.
// Pure: bytes in, what to pass on and what to refuse out.

const { parseRequestHead, chunkSize, isTrailerField, HeadRefused } = require('./request_head');

const MAX_CHUNK_LINE = 8 * 1024;   // a chunk-size line or a trailer line, without its CRLF

// A head in one spelling llhttp reads exactly as the grammar did: single spaces, CRLF,
// values trimmed, no empty line before it, and Content-Length once (llhttp refuses a
// repeated one, which the grammar accepts when the values agree). llhttp decides on an
// upgrade by its own reading of Connection, Proxy-Connection and Upgrade, so those go in a
// form it cannot read otherwise: Connection as a plain token list, no Proxy-Connection
// (an obsolete field an origin server ignores), no empty Upgrade, and, when `upgrade` is
// false, neither Upgrade nor the "upgrade" option: the request is then an ordinary one.
function plainHead(head, upgrade) {
  const lines = [`${head.method} ${head.target} HTTP/1.${head.minorVersion}`];
  let lengthSent = false;
  for (const [name, value] of head.fields) {
    switch (name.toLowerCase()) {
      case 'content-length':
        if (lengthSent) continue;
        lengthSent = true;
        break;
      case 'proxy-connection':
        continue;
      case 'upgrade':
        if (!upgrade || value === '') continue;
        break;
      case 'connection': {
        const options = value.split(',').map((option) => option.replace(/^[ \t]+|[ \t]+$/g, ''))
          .filter((option) => option !== '' && (upgrade || option.toLowerCase() !== 'upgrade'));
        if (options.length > 0) lines.push(`${name}: ${options.join(', ')}`);
        continue;
      }
      default:
    }
    lines.push(`${name}: ${value}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

class RequestStream {
  // `admits(host)`: whether a request for that (normalised) host may be served here;
  // `upgrades()`: whether the server takes upgrades (else llhttp serves the request as any
  // other, and the connection goes on in HTTP/1.1).
  constructor(limits, admits, upgrades) {
    this.limits = limits;
    this.admits = admits;
    this.upgrades = upgrades;
    this.pending = '';       // 'latin1' bytes not yet passed on or judged
    this.state = 'head';     // head, length, chunk-size, chunk-data, chunk-end, trailer, through, refused
    this.left = 0n;          // bytes left in the body or the chunk
  }

  // True while part of a head has come and the rest has not.
  get inHead() {
    return this.state === 'head' && this.pending.length > 0;
  }

  // Stops the stream from outside (a timeout): true unless it had stopped already.
  refuse() {
    if (this.state === 'refused') return false;
    this.state = 'refused';
    this.pending = '';
    return true;
  }

  // Judges `chunk` (a Buffer). Returns { pass: Buffer of bytes for llhttp, refusal: null or
  // { status, reason, inBody }, heads: the heads passed on, in order }. After a refusal every later
  // byte is dropped; after an upgrade every byte is passed on as it is.
  feed(chunk) {
    const result = { pass: [], refusal: null, heads: [] };
    if (this.state === 'through') return { ...result, pass: chunk };
    if (this.state === 'refused') return { ...result, pass: Buffer.alloc(0) };
    const text = chunk.toString('latin1');
    const whole = this.pending === '';   // then `chunk` may pass on as it is
    this.pending += text;
    try {
      while (this.pending.length > 0 && this.step(result)) { /* one step at a time */ }
    } catch (error) {
      if (!(error instanceof HeadRefused)) throw error;
      // inBody: the request whose body broke has been passed on already, and waits for it.
      result.refusal = { status: error.status, reason: error.reason, inBody: this.state !== 'head' };
      this.state = 'refused';
      this.pending = '';
    }
    const passed = result.pass.join('');
    // Usually a chunk is whole requests already in their plain spelling: no copy then.
    result.pass = whole && passed === text ? chunk : Buffer.from(passed, 'latin1');
    return result;
  }

  // One step of the state machine; false when it needs more bytes.
  step(result) {
    switch (this.state) {
      case 'head': return this.readHead(result);
      case 'length': return this.passBody(result, 'head');
      case 'chunk-size': return this.readChunkSize(result);
      case 'chunk-data': return this.passBody(result, 'chunk-end');
      case 'chunk-end': return this.readChunkEnd(result);
      case 'trailer': return this.readTrailer(result);
      case 'through':
        result.pass.push(this.pending);
        this.pending = '';
        return false;
      default: return false;
    }
  }

  readHead(result) {
    const head = parseRequestHead(this.pending, this.limits);
    if (head === null) return false;
    if (!this.admits(head.host)) throw new HeadRefused(421, "a request for another host than the connection's");
    const upgrade = head.upgrade && this.upgrades();
    // Most heads are spelled plainly already: passed on as they came, without a rewrite.
    result.pass.push(head.plain ? this.pending.slice(0, head.length) : plainHead(head, upgrade));
    result.heads.push(head);
    this.pending = this.pending.slice(head.length);
    if (upgrade) {
      this.state = 'through';   // the upgraded protocol's bytes
    } else if (head.framing === 'chunked') {
      this.state = 'chunk-size';
    } else if (head.contentLength > 0n) {
      this.state = 'length';
      this.left = head.contentLength;
    }
    return true;
  }

  passBody(result, next) {
    const take = this.left < BigInt(this.pending.length) ? Number(this.left) : this.pending.length;
    result.pass.push(this.pending.slice(0, take));
    this.pending = this.pending.slice(take);
    this.left -= BigInt(take);
    if (this.left === 0n) this.state = next;
    return this.pending.length > 0 || this.left === 0n;
  }

  // A line of the chunked body without its CRLF, or null until it is all there.
  chunkLine(what) {
    const lf = this.pending.indexOf('\n');
    if (lf < 0) {
      if (this.pending.length > MAX_CHUNK_LINE + 1) throw new HeadRefused(400, `invalid body: ${what} too long`);
      return null;
    }
    if (lf === 0 || this.pending[lf - 1] !== '\r') throw new HeadRefused(400, `invalid body: ${what} without CRLF`);
    if (lf > MAX_CHUNK_LINE + 1) throw new HeadRefused(400, `invalid body: ${what} too long`);
    return this.pending.slice(0, lf - 1);
  }

  consumeLine(result, line) {
    result.pass.push(this.pending.slice(0, line.length + 2));
    this.pending = this.pending.slice(line.length + 2);
  }

  readChunkSize(result) {
    const line = this.chunkLine('chunk size');
    if (line === null) return false;
    const size = chunkSize(line);
    if (size === null) throw new HeadRefused(400, 'invalid body: bad chunk size');
    // In its plain spelling: llhttp refuses the whitespace that RFC 9112 allows around extensions.
    this.pending = this.pending.slice(line.length + 2);
    result.pass.push(`${size.toString(16)}\r\n`);
    this.left = size;
    this.state = size === 0n ? 'trailer' : 'chunk-data';
    return true;
  }

  readChunkEnd(result) {
    if (this.pending.length < 2) {
      if (this.pending !== '\r') throw new HeadRefused(400, 'invalid body: chunk data longer than its size');
      return false;
    }
    if (!this.pending.startsWith('\r\n')) throw new HeadRefused(400, 'invalid body: chunk data longer than its size');
    this.consumeLine(result, '');
    this.state = 'chunk-size';
    return true;
  }

  readTrailer(result) {
    const line = this.chunkLine('trailer line');
    if (line === null) return false;
    if (line !== '' && !isTrailerField(line)) throw new HeadRefused(400, 'invalid body: an invalid trailer field');
    this.consumeLine(result, line);
    if (line === '') this.state = 'head';
    return true;
  }
}

module.exports = { RequestStream, plainHead };
