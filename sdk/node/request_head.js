'use strict';
// The request-head grammar of http/request_head.cpp (docs/http-grammar.md), written again for
// Node: llhttp accepts more than the front (several spaces in the request line, any number
// of empty lines before it, a version of 0.9 or 2.0, two Host fields) and refuses some of
// what the front accepts (a repeated Content-Length), so a Node worker reads every head
// with this first. Pure: a 'latin1' string (one character per byte) in, a verdict out;
// tests/vectors/requests.json holds the cases every parser passes.

const { normalizeHost } = require('./host');

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TOKEN_PREFIX = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*/;   // what tokenLength() measures
const NOT_FIELD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;   // controls but HTAB
const DIGITS = /^[0-9]+$/;
const MAX_UINT64 = 18446744073709551615n;
const VERSION_SHAPE = 'HTTP/#.#';

const DEFAULT_LIMITS = Object.freeze({ maxHeadSize: 16 * 1024, maxRequestLine: 8 * 1024, maxFields: 100 });

// At least the front's limits (VHOSTD_MAX_HEAD_SIZE, VHOSTD_MAX_HEADER_FIELDS,
// docs/protocol.md section 2), so that no request the front routed is too large here.
function limitsFromEnvironment(env = process.env) {
  const positive = (text, fallback) => (/^[0-9]+$/.test(text || '') && Number(text) > 0 ? Number(text) : fallback);
  const maxHeadSize = positive(env.VHOSTD_MAX_HEAD_SIZE, DEFAULT_LIMITS.maxHeadSize);
  return {
    maxHeadSize,
    maxRequestLine: Math.min(DEFAULT_LIMITS.maxRequestLine, maxHeadSize),
    maxFields: positive(env.VHOSTD_MAX_HEADER_FIELDS, DEFAULT_LIMITS.maxFields),
  };
}

class HeadRefused extends Error {
  constructor(status, reason) {
    super(`${status} ${reason}`);
    this.status = status;
    this.reason = reason;
  }
}

const refuse = (status, reason) => { throw new HeadRefused(status, reason); };
const badByte = (c, otherwise) => (c === '\r' ? 'CR without LF' : otherwise);
const isOws = (c) => c === ' ' || c === '\t';
const trimOws = (text) => {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text[start])) start++;
  while (end > start && isOws(text[end - 1])) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
};
const listContains = (value, item) => value.split(',').some((part) => trimOws(part).toLowerCase() === item);
// #token: tokens separated by commas and OWS, empty elements allowed (RFC 9110 section 5.6.1).
const isTokenList = (value) => value.split(',').every((part) => { const t = trimOws(part); return t === '' || TOKEN.test(t); });
const versionReason = (version) => (version.includes('\r') ? 'CR without LF' : 'invalid HTTP version');

function fitsVersionShape(text) {
  if (text.length > VERSION_SHAPE.length) return false;
  for (let i = 0; i < text.length; i++) {
    const fits = VERSION_SHAPE[i] === '#' ? text[i] >= '0' && text[i] <= '9' : text[i] === VERSION_SHAPE[i];
    if (!fits) return false;
  }
  return true;
}

// http:// and https:// only (any other scheme is a proxy request): the authority.
function absoluteFormAuthority(target) {
  const lower = target.slice(0, 8).toLowerCase();
  for (const scheme of ['http://', 'https://']) {
    if (lower.startsWith(scheme)) {
      const rest = target.slice(scheme.length);
      const end = rest.search(/[/?]/);
      return end < 0 ? rest : rest.slice(0, end);
    }
  }
  return null;
}

// The index of the first character from `start` that `accepts` refuses (or text.length).
// The length of the token at the start of `text` (0 when there is none).
const tokenLength = (text) => TOKEN_PREFIX.exec(text)[0].length;

function span(text, start, accepts) {
  let i = start;
  while (i < text.length && accepts(text[i])) i++;
  return i;
}

// One line from `start`, looking no further than `limit`. A CR at the end of a partial line
// may still become part of its CRLF.
function lineAt(data, start, limit) {
  const lf = start < limit ? data.indexOf('\n', start) : -1;
  const complete = lf >= 0 && lf < limit;
  let stop = complete ? lf : Math.max(start, limit);
  let crlf = false;
  if (stop > start && data[stop - 1] === '\r') {
    stop--;
    crlf = complete;
  }
  return { text: data.slice(start, stop), complete, crlf, next: lf + 1 };
}

// One walk over the head, line by line, as http/request_head.cpp walks it: the last line
// may be partial and is checked as far as it goes, so the first refusal found is the same.
class HeadParser {
  constructor(data, limits) {
    this.data = data;
    this.limits = limits;
    this.method = '';
    this.target = '';
    this.minor = 1;
    this.host = null;
    this.hostSeen = false;
    this.targetHost = null;
    this.fields = [];
    this.contentLength = null;
    this.chunked = false;
    this.otherCoding = false;
    this.expectContinue = false;
    this.upgradeField = false;       // a non-empty Upgrade field, whatever its protocol
    this.upgradeWebsocket = false;
    this.connectionUpgrade = false;
    this.plain = true;               // the head is spelled as plainHead() (request_stream.js) writes it
  }

  parse() {
    const { data, limits } = this;
    let pos = data.startsWith('\r\n') ? 2 : 0;   // RFC 9112 section 2.2: one empty line
    if (pos > 0) this.plain = false;
    let line = lineAt(data, pos, Math.min(data.length, pos + limits.maxRequestLine + 2));
    if (line.text.length > limits.maxRequestLine) {
      this.requestLine(line.text.slice(0, limits.maxRequestLine + 1), false);
      refuse(414, 'request line too long');
    }
    this.requestLine(line.text, line.complete);
    if (!line.complete) return this.needMore();
    if (!line.crlf) refuse(400, 'LF without CR');
    const window = Math.min(data.length, limits.maxHeadSize);
    for (pos = line.next; ;) {
      line = lineAt(data, pos, window);
      if (line.complete && !line.crlf) refuse(400, 'LF without CR');
      if (line.complete && line.text === '') return this.finish(line.next);
      if (line.text !== '' && this.fields.length + 1 > limits.maxFields) refuse(431, 'too many fields');
      this.fieldLine(line.text, line.complete);
      if (!line.complete) return this.needMore();
      pos = line.next;
    }
  }

  needMore() {
    if (this.data.length >= this.limits.maxHeadSize) refuse(431, 'head too large');
    return null;
  }

  // method SP request-target SP HTTP-version, exactly one SP between the parts.
  requestLine(line, complete) {
    if (line === '') {
      if (complete) refuse(400, 'empty request line');
      return;
    }
    let i = tokenLength(line);
    if (i === line.length) {
      if (complete) refuse(400, 'missing request target');
      return;
    }
    if (line[i] !== ' ') refuse(400, badByte(line[i], 'invalid character in method'));
    if (i === 0) refuse(400, 'empty method');
    this.method = line.slice(0, i);
    const start = i + 1;
    i = span(line, start, (c) => c > ' ' && c < '\x7f');
    if (i === line.length) {
      if (complete) refuse(400, 'missing HTTP version');
      return;
    }
    if (line[i] !== ' ') refuse(400, badByte(line[i], 'invalid character in target'));
    if (i === start) refuse(400, 'empty target');
    this.target = line.slice(start, i);
    const version = line.slice(i + 1);
    if (!complete) {
      if (!fitsVersionShape(version)) refuse(400, versionReason(version));
      return;
    }
    if (version === 'HTTP/1.1') this.minor = 1;
    else if (version === 'HTTP/1.0') this.minor = 0;
    else if (version.length === VERSION_SHAPE.length && fitsVersionShape(version)) refuse(505, 'unsupported HTTP version');
    else refuse(400, versionReason(version));
    this.checkTarget();
  }

  checkTarget() {
    if (this.method === 'CONNECT') refuse(400, 'CONNECT not supported');
    if (this.target[0] === '/') return;
    if (this.target === '*') {
      if (this.method !== 'OPTIONS') refuse(400, 'asterisk-form target without OPTIONS');
      return;
    }
    const authority = absoluteFormAuthority(this.target);
    if (authority === null) refuse(400, 'invalid request target');
    if (authority.includes('@')) refuse(400, 'userinfo in target');
    this.targetHost = normalizeHost(authority);
    if (this.targetHost === null) refuse(400, 'invalid host in target');
  }

  // field-name ":" OWS field-value OWS
  fieldLine(line, complete) {
    if (line === '') return;
    if (isOws(line[0])) refuse(400, 'obs-fold');
    const i = tokenLength(line);
    if (i === line.length) {
      if (complete) refuse(400, 'field line without colon');
      return;
    }
    if (line[i] !== ':') {
      if (isOws(line[i])) refuse(400, 'whitespace before colon');
      refuse(400, badByte(line[i], 'invalid character in field name'));
    }
    if (i === 0) refuse(400, 'empty field name');
    const name = line.slice(0, i);
    const rawValue = line.slice(i + 1);
    const bad = rawValue.match(NOT_FIELD_VALUE);
    if (bad) refuse(400, badByte(bad[0], 'control character in field value'));
    const lower = name.toLowerCase();
    if (lower === 'host' && this.hostSeen) refuse(400, 'more than one Host');
    if (!complete) return;
    const value = trimOws(rawValue);
    if (rawValue.length !== value.length + 1 || rawValue[0] !== ' ') this.plain = false;
    switch (lower) {
      case 'host':
        this.hostSeen = true;
        this.host = normalizeHost(value);
        if (this.host === null) refuse(400, 'invalid Host');
        break;
      case 'upgrade':
        this.plain = false;   // plainHead() keeps it only when the server takes upgrades
        this.upgradeField = this.upgradeField || value !== '';
        this.upgradeWebsocket = this.upgradeWebsocket || listContains(value, 'websocket');
        break;
      case 'connection':
      case 'proxy-connection':
        // Connection options are tokens (RFC 9110 section 7.6.1); Beast refuses anything else.
        if (!isTokenList(value)) refuse(400, 'invalid Connection');
        if (lower === 'connection') this.connectionUpgrade = this.connectionUpgrade || listContains(value, 'upgrade');
        // plainHead() drops Proxy-Connection, and rewrites a list or an upgrade.
        if (lower === 'proxy-connection' || value === '' || value.includes(',') || this.connectionUpgrade) this.plain = false;
        break;
      case 'content-length':
        this.readContentLength(value);
        break;
      case 'transfer-encoding':
        this.readTransferCodings(value);
        break;
      case 'expect':
        // 100-continue is the only expectation HTTP defines (RFC 9110 section 10.1.1).
        if (value.toLowerCase() !== '100-continue') refuse(417, 'unsupported expectation');
        this.expectContinue = true;
        break;
      default:
    }
    this.fields.push([name, value]);
  }

  // 1*DIGIT within 64 bits, the same value when repeated (RFC 9112 section 6.3).
  readContentLength(value) {
    if (this.contentLength !== null) this.plain = false;   // plainHead() sends it once
    if (!DIGITS.test(value) || BigInt(value) > MAX_UINT64) refuse(400, 'invalid Content-Length');
    const length = BigInt(value);
    if (this.contentLength !== null && this.contentLength !== length) refuse(400, 'conflicting Content-Length');
    this.contentLength = length;
  }

  // A list over any number of fields; only a final "chunked" is understood.
  readTransferCodings(value) {
    for (const part of value.split(',')) {
      const coding = trimOws(part);
      if (!TOKEN.test(coding)) refuse(400, 'invalid Transfer-Encoding');
      if (this.chunked) refuse(400, 'chunked is not the final transfer coding');
      if (coding.toLowerCase() === 'chunked') this.chunked = true;
      else this.otherCoding = true;
    }
  }

  // RFC 9112 sections 6.1 and 6.3: how the body is framed, or why it cannot be trusted.
  framing() {
    if (!this.chunked && !this.otherCoding) return this.contentLength === null ? 'none' : 'length';
    if (this.minor === 0) refuse(400, 'Transfer-Encoding in HTTP/1.0');
    if (this.contentLength !== null) refuse(400, 'Transfer-Encoding with Content-Length');
    if (!this.chunked) refuse(400, 'chunked is not the final transfer coding');
    if (this.otherCoding) refuse(501, 'transfer coding not supported');
    return 'chunked';
  }

  finish(length) {
    const framing = this.framing();
    if (this.minor === 1 && !this.hostSeen) refuse(400, 'missing Host');
    let { host } = this;
    if (this.targetHost !== null) {
      // Both name the host; a reader might believe either, so they must agree.
      if (host === null) host = this.targetHost;
      else if (host !== this.targetHost) refuse(400, 'Host does not match absolute-form target');
    }
    return {
      method: this.method,
      target: this.target,
      minorVersion: this.minor,
      host: host || '',
      length,
      fields: this.fields,
      framing,
      contentLength: this.contentLength === null ? 0n : this.contentLength,
      expectContinue: this.expectContinue,
      websocketUpgrade: this.upgradeWebsocket && this.connectionUpgrade,
      upgrade: this.upgradeField && this.connectionUpgrade,
      plain: this.plain,
    };
  }
}

// The head at the start of `data` (a 'latin1' string of what the client sent, from its first
// byte): an object, null when more bytes are needed and nothing seen is wrong yet; throws
// HeadRefused when refused.
function parseRequestHead(data, limits = DEFAULT_LIMITS) {
  return new HeadParser(data, limits).parse();
}

// chunk-size *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ), RFC 9112
// section 7.1.1: http/chunked_body.cpp's rule.
const TOKEN_RE = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED_RE = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x20-\\x7e\\x80-\\xff])*"';
const CHUNK_LINE = new RegExp(`^([0-9A-Fa-f]+)(?:[ \\t]*;[ \\t]*${TOKEN_RE}(?:[ \\t]*=[ \\t]*(?:${TOKEN_RE}|${QUOTED_RE}))?)*$`);
const TRAILER_FIELD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*$/;

// The size on a chunk-size line (without its CRLF), whose extensions are skipped; null when
// it is not one.
function chunkSize(line) {
  const match = CHUNK_LINE.exec(line);
  if (!match) return null;
  const size = BigInt(`0x${match[1]}`);
  return size > MAX_UINT64 ? null : size;
}

// A trailer line (without its CRLF) is a field line as in a head: name ":" value; never a
// framing field (RFC 9110 section 6.5.1), and Connection a token list (http/chunked_body.cpp).
function isTrailerField(line) {
  if (!TRAILER_FIELD.test(line)) return false;
  const colon = line.indexOf(':');
  const name = line.slice(0, colon).toLowerCase();
  if (name === 'content-length' || name === 'transfer-encoding') return false;
  return name === 'connection' || name === 'proxy-connection' ? isTokenList(line.slice(colon + 1)) : true;
}

module.exports = { parseRequestHead, chunkSize, isTrailerField, limitsFromEnvironment, HeadRefused, DEFAULT_LIMITS };
