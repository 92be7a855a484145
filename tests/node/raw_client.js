'use strict';
// The end-to-end tests' raw client, and the WebSocket frames it writes and reads.

const assert = require('node:assert/strict');
const net = require('node:net');

// A client on a raw socket: exact bytes out, responses and frames parsed as they come.
class RawClient {
  static connect(port) {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  // connect, then body(client); the client is destroyed however body ends.
  static async using(port, body) {
    const client = await RawClient.connect(port);
    try {
      return await body(client);
    } finally {
      client.destroy();
    }
  }

  constructor(socket) {
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.ended = false;
    this.waiters = new Set();
    const wake = () => { for (const waiter of [...this.waiters]) waiter(); };
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.ended = true;
      wake();
    });
  }

  write(data) {
    this.socket.write(data);
  }

  // Resolves with parse(buffer, ended).value once it returns { value, consumed }.
  until(what, parse, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      let timer;
      const attempt = () => {
        const result = parse(this.buffer, this.ended);
        if (result) {
          this.buffer = this.buffer.subarray(result.consumed);
          finish();
          resolve(result.value);
        } else if (this.ended) {
          finish();
          reject(new Error(`connection closed before ${what}; unparsed: ${JSON.stringify(this.buffer.toString('latin1'))}`));
        }
      };
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(attempt);
      };
      timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.buffer.toString('latin1'))}`));
      }, timeoutMs);
      this.waiters.add(attempt);
      attempt();
    });
  }

  response(timeoutMs) {
    return this.until('HTTP response', parseResponse, timeoutMs);
  }

  frame(timeoutMs) {
    return this.until('WebSocket frame', parseFrame, timeoutMs);
  }

  closed(timeoutMs = 10000) {
    return this.until('close', (buffer, ended) => (ended && buffer.length === 0 ? { value: true, consumed: 0 } : null), timeoutMs);
  }

  destroy() {
    this.socket.destroy();
  }
}

function parseResponse(buffer, ended) {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(statusLine.split(' ')[1]);
  const start = end + 4;
  let length;
  if (headers['content-length'] !== undefined) length = Number(headers['content-length']);
  else if (status === 101) length = 0;
  else if (ended) length = buffer.length - start;   // no length: the body ends with the connection
  else return null;
  if (buffer.length < start + length) return null;
  return { value: { statusLine, status, headers, body: buffer.subarray(start, start + length).toString() }, consumed: start + length };
}

// WebSocket frames: the client's are masked (RFC 6455 5.3), the server's are not.
function clientFrame(opcode, payload, fin = true) {
  payload = Buffer.from(payload);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  let header;
  if (payload.length < 126) {
    header = Buffer.from([0, 0x80 | payload.length]);
  } else if (payload.length < 65536) {
    header = Buffer.alloc(4);
    header[1] = 0x80 | 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  header[0] = (fin ? 0x80 : 0) | opcode;
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i & 3]));
  return Buffer.concat([header, mask, masked]);
}

function parseFrame(buffer) {
  if (buffer.length < 2) return null;
  let length = buffer[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  if (buffer.length < offset + length) return null;
  return {
    value: { fin: (buffer[0] & 0x80) !== 0, opcode: buffer[0] & 0x0f, masked: (buffer[1] & 0x80) !== 0, payload: buffer.subarray(offset, offset + length) },
    consumed: offset + length,
  };
}

async function openWebSocket(port, host) {
  const client = await RawClient.connect(port);
  client.write(`GET /chat HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  const response = await client.response();
  assert.equal(response.status, 101, response.statusLine);
  assert.equal(response.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  return client;
}


module.exports = { RawClient, clientFrame, parseFrame, openWebSocket };
