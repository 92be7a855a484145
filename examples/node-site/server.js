'use strict';
// node-site: the Node.js twin of examples/hello-worker, dependency-free. Every request gets
// 200 "hello from SITE (pid N)\n" (and "received N bytes\n" when it had a body); a WebSocket
// upgrade on any path echoes text and binary messages. Under vhostd it gets its
// connections through sdk/node (for a passthrough site it terminates TLS itself, with the
// files in VHOSTD_TLS_CERT and VHOSTD_TLS_KEY); standalone it listens itself:
//
//   node server.js                                  (started by vhostd, runtime = "node")
//   node server.js --listen 127.0.0.1:8080 [--site NAME]
//   node server.js --cluster 2 --listen 127.0.0.1:8080 [--site NAME]   (Node's cluster module)

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const vhostd = require('../../sdk/node');

const IDLE_TIMEOUT_MS = 60_000;             // hello-worker's keep-alive idle timeout
const WEBSOCKET_IDLE_TIMEOUT_MS = 300_000;  // Beast's suggested server idle timeout
const MAX_MESSAGE = 16 * 1024 * 1024;       // Beast's default read_message_max
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function usage() {
  process.stderr.write('usage: node server.js                       (started by vhostd)\n' +
    '       node server.js --listen HOST:PORT [--site NAME]\n' +
    '       node server.js --cluster N --listen HOST:PORT [--site NAME]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const options = { listen: null, site: 'direct', cluster: 0 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--listen' && value) {
      const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(value);
      if (!match) usage();
      options.listen = { host: match[1], port: Number(match[2]) };
      i++;
    } else if (argv[i] === '--site' && value) {
      options.site = value;
      i++;
    } else if (argv[i] === '--cluster' && /^\d+$/.test(value || '') && Number(value) > 0) {
      options.cluster = Number(value);
      i++;
    } else {
      usage();
    }
  }
  if (options.cluster && !options.listen) usage();
  return options;
}

// --- HTTP -------------------------------------------------------------------------------

function createServer(site) {
  const greeting = `hello from ${site} (pid ${process.pid})\n`;
  const plain = Buffer.from(greeting);
  const headers = { 'Server': 'node-site', 'Content-Type': 'text/plain' };

  // A passthrough site's worker terminates TLS itself, with the files vhostd names.
  const tls = process.env.VHOSTD_TLS_CERT ? {
    cert: process.env.VHOSTD_TLS_CERT.split(':').map((file) => fs.readFileSync(file)),
    key: (process.env.VHOSTD_TLS_KEY || '').split(':').map((file) => fs.readFileSync(file)),
  } : {};
  const server = (tls.cert ? https : http).createServer({ keepAliveTimeout: IDLE_TIMEOUT_MS, ...tls }, (req, res) => {
    // Without Content-Length or Transfer-Encoding a request has no body: answer at once.
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
      res.writeHead(200, { ...headers, 'Content-Length': plain.length });
      res.end(plain);
      return;
    }
    let size = 0;
    req.on('data', (chunk) => { size += chunk.length; });
    req.on('end', () => {
      const body = size > 0 ? Buffer.from(`${greeting}received ${size} bytes\n`) : plain;
      res.writeHead(200, { ...headers, 'Content-Length': body.length });
      res.end(body);
    });
  });
  server.on('upgrade', (req, socket, head) => upgrade(req, socket, head, plain));
  return server;
}

function hasToken(value, token) {
  return (value || '').toLowerCase().split(',').some((part) => part.trim() === token);
}

function closeAfter(socket, text) {
  socket.on('error', () => {});
  socket.end(text);
  socket.once('finish', () => socket.destroy());
}

// Node emits 'upgrade' for any Upgrade header; like Beast's is_upgrade, only a GET over
// HTTP/1.1 asking for websocket is one. The others get the usual answer, and the connection
// closes (it has left Node's HTTP parser).
function upgrade(req, socket, head, plain) {
  const isWebSocket = req.method === 'GET' && req.httpVersion === '1.1' &&
    hasToken(req.headers.upgrade, 'websocket') && hasToken(req.headers.connection, 'upgrade');
  if (!isWebSocket) {
    closeAfter(socket, `HTTP/1.1 200 OK\r\nServer: node-site\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${plain.length}\r\nConnection: close\r\n\r\n${plain}`);
    return;
  }
  // The checks and answers of Beast's websocket::stream::accept.
  const key = req.headers['sec-websocket-key'] || '';
  const version = req.headers['sec-websocket-version'] || '';
  const refuse = (status, extra, message) => closeAfter(socket, `HTTP/1.1 ${status}\r\n${extra}Server: node-site\r\n` +
    `Content-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`);
  if (key === '') return refuse('400 Bad Request', '', 'The WebSocket handshake Sec-WebSocket-Key field is missing');
  if (key.length > 24) return refuse('400 Bad Request', '', 'The WebSocket handshake Sec-WebSocket-Key field is invalid');
  if (version === '') return refuse('400 Bad Request', '', 'The WebSocket handshake Sec-WebSocket-Version field is missing');
  if (version !== '13') {
    return refuse('426 Upgrade Required', 'Sec-WebSocket-Version: 13\r\n',
      'The WebSocket handshake Sec-WebSocket-Version field is invalid');
  }
  const accept = crypto.createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accept}\r\nServer: node-site\r\n\r\n`);
  echo(socket, head);
}

// --- WebSocket echo (RFC 6455, no extensions) ----------------------------------------------

// Received bytes not parsed yet, kept as chunks so that a large frame is copied once.
class ByteQueue {
  constructor() {
    this.chunks = [];
    this.length = 0;
  }

  push(chunk) {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  // The first n bytes (n <= length), as one Buffer; take() also removes them.
  peek(n) {
    if (n === 0) return Buffer.alloc(0);
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    return Buffer.concat(this.chunks, this.length).subarray(0, n);
  }

  take(n) {
    const out = this.peek(n);
    let left = n;
    while (left > 0) {
      const first = this.chunks[0];
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return out;   // the received bytes themselves: unmasking writes into them, nobody else reads them
  }
}

function frame(opcode, payload) {
  const length = payload.length;
  let header;
  if (length < 126) {
    header = Buffer.from([0x80 | opcode, length]);
  } else if (length < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  header[0] = 0x80 | opcode;
  return Buffer.concat([header, payload]);
}

function closePayload(code) {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code, 0);
  return payload;
}

function validCloseCode(code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function validUtf8(bytes) {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function echo(socket, head) {
  const queue = new ByteQueue();
  let fragments = null;     // a fragmented message in progress: { opcode, parts, size }
  let closed = false;

  socket.setNoDelay(true);
  socket.setTimeout(WEBSOCKET_IDLE_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => {});
  socket.on('end', () => socket.end());

  const send = (opcode, payload) => {
    if (!socket.write(frame(opcode, payload))) {
      // The client reads slower than it sends: stop reading until it catches up.
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  };
  const close = (code, payload = closePayload(code)) => {
    closed = true;
    socket.end(frame(0x8, payload));
    socket.once('finish', () => socket.destroy());
  };

  // Checks a frame's header before its payload is there, so that a huge frame fails at once.
  const problem = (fin, rsv, opcode, masked, length) => {
    if (rsv !== 0 || !masked) return 1002;
    if (opcode >= 0x8) {
      if (opcode > 0xa || !fin || length > 125) return 1002;
      return 0;
    }
    if (opcode > 0x2) return 1002;
    if (opcode === 0x0 ? fragments === null : fragments !== null) return 1002;
    if ((fragments ? fragments.size : 0) + length > MAX_MESSAGE) return 1009;
    return 0;
  };

  const onFrame = (fin, opcode, payload) => {
    if (opcode === 0x9) return send(0xa, payload);   // ping: pong
    if (opcode === 0xa) return undefined;            // pong
    if (opcode === 0x8) {
      if (payload.length === 0) return close(1000, Buffer.alloc(0));
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 0;
      if (payload.length === 1 || !validCloseCode(code)) return close(1002);
      if (!validUtf8(payload.subarray(2))) return close(1007);
      return close(code);
    }
    if (opcode !== 0x0) fragments = { opcode, parts: [], size: 0 };
    fragments.parts.push(payload);
    fragments.size += payload.length;
    if (!fin) return undefined;
    const message = Buffer.concat(fragments.parts, fragments.size);
    const messageOpcode = fragments.opcode;
    fragments = null;
    if (messageOpcode === 0x1 && !validUtf8(message)) return close(1007);
    return send(messageOpcode, message);
  };

  const parse = () => {
    while (!closed && queue.length >= 2) {
      const start = queue.peek(Math.min(queue.length, 14));
      const fin = (start[0] & 0x80) !== 0;
      const rsv = start[0] & 0x70;
      const opcode = start[0] & 0x0f;
      const masked = (start[1] & 0x80) !== 0;
      let length = start[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (start.length < 4) return;
        length = start.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (start.length < 10) return;
        const big = start.readBigUInt64BE(2);
        length = big > BigInt(MAX_MESSAGE) ? MAX_MESSAGE + 1 : Number(big);
        offset = 10;
      }
      const code = problem(fin, rsv, opcode, masked, length);
      if (code) return close(code);
      if (queue.length < offset + 4 + length) return;
      const mask = queue.take(offset + 4).subarray(offset);
      const payload = queue.take(length);
      for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      onFrame(fin, opcode, payload);
    }
  };

  socket.on('data', (chunk) => {
    queue.push(chunk);
    parse();
  });
  if (head && head.length) {
    queue.push(head);
    parse();
  }
}

// --- Start --------------------------------------------------------------------------------

function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.listen && options.cluster && cluster.isPrimary) {
    for (let i = 0; i < options.cluster; i++) cluster.fork();
    cluster.on('exit', (worker, code, signal) => {
      console.error(`node-site: cluster worker ${worker.process.pid} exited (${signal || code})`);
    });
    process.on('SIGTERM', () => {
      for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
      process.exit(0);
    });
    return;
  }
  if (options.listen) {
    const server = createServer(options.site);
    server.listen(options.listen.port, options.listen.host);
    return;
  }
  // serve() explains what is missing when vhostd started us without Node's IPC channel.
  if (process.env.VHOSTD_CHANNEL_FD === undefined) usage();
  const worker = vhostd.serve(createServer(process.env.VHOSTD_SITE));
  console.log(`node-site for site ${worker.site} ready`);
}

main();
