'use strict';
// End-to-end tests of sdk/node and examples/node-site behind the real vhostd, with real
// clients (curl, Node's http and https clients, raw sockets) on loopback ports. No npm
// dependencies: node:test and node:assert.
//
//   node tests/node/sdk_test.js [VHOSTD [VHOSTCTL]]     (CTest passes both; default build/bin)
//
// Every process it starts is stopped by pid; every wait is for a condition, with a limit.

const assert = require('node:assert/strict');
const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { after, before, test } = require('node:test');
const { setTimeout: delay } = require('node:timers/promises');
const util = require('node:util');

const repo = path.resolve(__dirname, '../..');
const vhostdBin = process.argv[2] || process.env.VHOSTD_BIN || path.join(repo, 'build/bin/vhostd');
const vhostctlBin = process.argv[3] || process.env.VHOSTCTL_BIN || path.join(path.dirname(vhostdBin), 'vhostctl');
const exampleServer = path.join(repo, 'examples/node-site/server.js');
const testApp = path.join(__dirname, 'app.js');
const NODE_MAJOR = 20;

console.log(`# node ${process.version} (${process.execPath}), vhostd ${vhostdBin}`);

// --- helpers ----------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Polls `check` until it returns something truthy; fails after `timeoutMs` with the last answer.
async function waitFor(what, check, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await delay(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${util.inspect(last, { depth: 4 })})`);
}

// The promise's value, or `fallback` after `ms` (the timer does not outlive the wait).
async function within(promise, ms, fallback) {
  let timer;
  try {
    return await Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, ms, fallback); })]);
  } finally {
    clearTimeout(timer);
  }
}

function processGone(pid) {
  try {
    process.kill(pid, 0);
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z');   // a zombie is gone too
  } catch {
    return true;
  }
}

function run(file, args, timeoutMs = 20000) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

// One HTTP request with Node's client; `agent: false` means a new connection.
function request(port, { host, path: target = '/', method = 'GET', body, headers = {}, agent = false, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, agent, headers: { Host: host, ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), reusedSocket: req.reusedSocket,
      }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

const GREETING = /^hello from node \(pid (\d+)\)\n/;
function pidOf(body) {
  const match = GREETING.exec(body) || /\(pid (\d+)\)/.exec(body);
  assert.ok(match, `no pid in ${JSON.stringify(body)}`);
  return Number(match[1]);
}

// A client on a raw socket: exact bytes out, responses and frames parsed as they come.
class RawClient {
  static connect(port) {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
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

// --- vhostd with the example site and the test site --------------------------------------

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostd-node-test-'));
const config = path.join(work, 'vhostd.toml');
const ports = {};
let vhostd = null;
let vhostdLog = '';
let tls = null;   // { cert, key } when openssl could make them
const children = new Set();   // fake-parent children, stopped in after()

function writeConfig(generation) {
  // No runtime key: vhostd sees that command[0] is node and gives the workers Node's IPC
  // variables itself (the test fails without them).
  fs.writeFileSync(config, `
[[listen]]
address = "127.0.0.1:${ports.http}"
${tls ? `
[[listen]]
address = "127.0.0.1:${ports.https}"
tls = true
` : ''}
[admin]
listen = "127.0.0.1:${ports.admin}"

[sites.node]
hosts = ["node.test"]
command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(exampleServer)}]
workers = 2
heartbeat_timeout = "2s"

[sites.app]
hosts = ["app.test"]
command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(testApp)}]
workers = 1
heartbeat_timeout = "2s"
drain_timeout = "15s"
env = { APP_GENERATION = "${generation}" }
${tls ? `tls = { cert = "${tls.cert}", key = "${tls.key}" }

[sites.secure]
hosts = ["secure.test"]
command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(testApp)}]
workers = 1
tls = { cert = "${tls.cert}", key = "${tls.key}" }
tls_mode = "passthrough"` : ''}
`);
}

async function status() {
  const response = await request(ports.admin, { host: `127.0.0.1:${ports.admin}`, path: '/status' });
  assert.equal(response.status, 200);
  return JSON.parse(response.body);
}

async function site(name) {
  return (await status()).sites.find((s) => s.name === name);
}

before(async () => {
  ports.http = await freePort();
  ports.https = await freePort();
  ports.admin = await freePort();
  const made = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=app.test', '-addext', 'subjectAltName=DNS:app.test,DNS:secure.test', '-keyout', path.join(work, 'app.key'), '-out', path.join(work, 'app.pem')]);
  if (made.code === 0) tls = { cert: path.join(work, 'app.pem'), key: path.join(work, 'app.key') };
  writeConfig(1);

  // A binary being relinked is missing for a moment.
  await waitFor(`${vhostdBin} to exist`, () => fs.existsSync(vhostdBin), 60000);
  vhostd = spawn(vhostdBin, ['-c', config, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (chunk) => { vhostdLog += chunk; };
  vhostd.stdout.on('data', collect);
  vhostd.stderr.on('data', collect);
  vhostd.on('error', (error) => collect(`spawning vhostd: ${error.message}\n`));
  vhostd.exited = new Promise((resolve) => vhostd.on('exit', (code, signal) => resolve({ code, signal })));
  await waitFor('vhostd ready (/readyz 200)', async () =>
    (await request(ports.admin, { host: 'admin', path: '/readyz', timeoutMs: 1000 })).status === 200, 20000);
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (vhostd && vhostd.exitCode === null && vhostd.signalCode === null) {
    vhostd.kill('SIGTERM');
    const stopped = await within(vhostd.exited, 15000, null);
    if (!stopped) vhostd.kill('SIGKILL');
  }
  if (process.exitCode) console.log(`# vhostd log:\n${vhostdLog.replace(/^/gm, '#   ')}`);
  fs.rmSync(work, { recursive: true, force: true });
});

// --- tests --------------------------------------------------------------------------------

test(`Node.js is version ${NODE_MAJOR}`, () => {
  console.log(`# process.version = ${process.version}`);
  assert.equal(Number(process.versions.node.split('.')[0]), NODE_MAJOR, `these tests pin Node ${NODE_MAJOR}; this is ${process.version}`);
});

test('both workers of the example site answer', { timeout: 30000 }, async () => {
  const expected = new Set((await site('node')).workers.map((w) => w.pid));
  assert.equal(expected.size, 2);
  const seen = new Set();
  for (let i = 0; i < 50 && seen.size < 2; i++) {
    const response = await request(ports.http, { host: 'node.test', headers: { Connection: 'close' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'text/plain');
    assert.match(response.body, /^hello from node \(pid \d+\)\n$/);
    seen.add(pidOf(response.body));
  }
  assert.deepEqual([...seen].sort(), [...expected].sort());
});

test('keep-alive: one connection carries every request', { timeout: 30000 }, async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const pids = new Set();
    for (let i = 0; i < 5; i++) {
      const response = await request(ports.http, { host: 'node.test', agent });
      assert.equal(response.status, 200);
      assert.equal(response.reusedSocket, i > 0);
      pids.add(pidOf(response.body));
    }
    assert.equal(pids.size, 1);
  } finally {
    agent.destroy();
  }
});

test('pipelining: three requests in one write, answered in order', { timeout: 30000 }, async () => {
  const client = await RawClient.connect(ports.http);
  try {
    client.write('GET /1 HTTP/1.1\r\nHost: node.test\r\n\r\n' +
      'POST /2 HTTP/1.1\r\nHost: node.test\r\nContent-Length: 5\r\n\r\nhello' +
      'GET /3 HTTP/1.1\r\nHost: node.test\r\n\r\n');
    const first = await client.response();
    const second = await client.response();
    const third = await client.response();
    for (const response of [first, second, third]) assert.equal(response.status, 200);
    const pid = pidOf(first.body);
    assert.equal(second.body, `hello from node (pid ${pid})\nreceived 5 bytes\n`);
    assert.equal(third.body, `hello from node (pid ${pid})\n`);
  } finally {
    client.destroy();
  }
});

test('a request body is counted (curl)', { timeout: 30000 }, async () => {
  const small = await run('curl', ['-sS', '--max-time', '10', '-H', 'Host: node.test', '--data-binary', 'hello', `http://127.0.0.1:${ports.http}/upload`]);
  assert.equal(small.code, 0, small.stderr);
  assert.match(small.stdout, /^hello from node \(pid \d+\)\nreceived 5 bytes\n$/);

  const file = path.join(work, 'body.bin');
  fs.writeFileSync(file, Buffer.alloc(3 << 20, 7));   // larger than the socket buffers: several reads
  const large = await run('curl', ['-sS', '--max-time', '20', '-H', 'Host: node.test', '--data-binary', `@${file}`, `http://127.0.0.1:${ports.http}/upload`]);
  assert.equal(large.code, 0, large.stderr);
  assert.match(large.stdout, new RegExp(`received ${3 << 20} bytes\\n$`));
});

test('WebSocket: text, binary, fragmented and large messages are echoed; ping, close', { timeout: 30000 }, async () => {
  const client = await openWebSocket(ports.http, 'node.test');
  try {
    client.write(clientFrame(0x1, 'hello'));
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0x1, masked: false, payload: Buffer.from('hello') });

    const binary = Buffer.from([0, 1, 2, 253, 254, 255]);
    client.write(clientFrame(0x2, binary));
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0x2, masked: false, payload: binary });

    client.write(Buffer.concat([clientFrame(0x1, 'frag', false), clientFrame(0x9, 'ping!'), clientFrame(0x0, 'mented')]));
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0xa, masked: false, payload: Buffer.from('ping!') });
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0x1, masked: false, payload: Buffer.from('fragmented') });

    client.write(Buffer.concat([clientFrame(0x9, ''), clientFrame(0x1, '')]));   // empty payloads
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0xa, masked: false, payload: Buffer.alloc(0) });
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0x1, masked: false, payload: Buffer.alloc(0) });

    const large = Buffer.alloc(200000, 0x61);   // a 64-bit length
    client.write(clientFrame(0x2, large));
    const echoed = await client.frame();
    assert.equal(echoed.opcode, 0x2);
    assert.ok(echoed.payload.equals(large));

    client.write(clientFrame(0x8, Buffer.from([0x03, 0xe8])));   // close 1000
    const close = await client.frame();
    assert.equal(close.opcode, 0x8);
    assert.equal(close.payload.readUInt16BE(0), 1000);
    await client.closed();
  } finally {
    client.destroy();
  }
});

test('421 for a later request on the connection for another host', { timeout: 30000 }, async () => {
  const client = await RawClient.connect(ports.http);
  try {
    client.write('GET / HTTP/1.1\r\nHost: node.test\r\n\r\n');
    const first = await client.response();
    assert.equal(first.status, 200);
    // The same host, spelled otherwise: case, port and one trailing dot do not matter.
    client.write(`GET / HTTP/1.1\r\nHost: NODE.Test.:${ports.http}\r\n\r\n`);
    assert.equal((await client.response()).status, 200);
    // Another host, with a request pipelined after it: 421, then the connection closes
    // and nothing more is answered.
    client.write('GET / HTTP/1.1\r\nHost: app.test\r\n\r\nGET / HTTP/1.1\r\nHost: node.test\r\n\r\n');
    const misdirected = await client.response();
    assert.equal(misdirected.status, 421);
    assert.equal(misdirected.headers.connection, 'close');
    assert.equal(misdirected.body, '421 this connection is for node.test\n');
    await client.closed();
  } finally {
    client.destroy();
  }
});

test('the socket reports the client vhostd names (TCP)', { timeout: 30000 }, async () => {
  const client = await RawClient.connect(ports.http);
  try {
    client.write('GET /whoami HTTP/1.1\r\nHost: app.test\r\n\r\n');
    const who = JSON.parse((await client.response()).body);
    assert.equal(who.handle, 'TCP');
    assert.equal(who.remoteAddress, '127.0.0.1');
    assert.equal(who.remotePort, client.socket.localPort);
    assert.equal(who.remoteFamily, 'IPv4');
    assert.equal(who.localPort, ports.http);
    assert.equal(who.encrypted, false);
    assert.equal(who.info.host, 'app.test');
    assert.equal(who.info.site, 'app');
  } finally {
    client.destroy();
  }
});

function httpsWhoami(servername) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: ports.https, path: '/whoami', servername, ca: fs.readFileSync(tls.cert), agent: false,
      headers: { Host: servername },
    }, (res) => {
      const localPort = res.socket.localPort;
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ ...JSON.parse(body), clientPort: localPort }));
    });
    req.setTimeout(10000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end();
  });
}

test('the socket reports the client vhostd names (TLS terminated: a socketpair)', { timeout: 30000 }, async (t) => {
  if (!tls) return t.skip('openssl could not make a certificate');
  const who = await httpsWhoami('app.test');
  assert.equal(who.handle, 'Pipe');   // an AF_UNIX socketpair: no peer address of its own
  assert.equal(who.remoteAddress, '127.0.0.1');
  assert.equal(who.remotePort, who.clientPort);
  assert.equal(who.localPort, ports.https);
  assert.equal(who.encrypted, true);
  assert.equal(who.info.tls.mode, 'terminate');
  assert.equal(who.info.tls.serverName, 'app.test');
});

test('passthrough: an https.Server in the worker terminates TLS on the handed socket', { timeout: 30000 }, async (t) => {
  if (!tls) return t.skip('openssl could not make a certificate');
  const who = await httpsWhoami('secure.test');
  assert.equal(who.handle, 'TLSWrap');
  assert.equal(who.remoteAddress, '127.0.0.1');
  assert.equal(who.remotePort, who.clientPort);
  assert.equal(who.encrypted, true);
  assert.equal(who.info.site, 'secure');
  assert.equal(who.info.tls.mode, 'passthrough');
});

test('a client that does not read stalls nobody else (the handed socket is non-blocking)', { timeout: 30000 }, async () => {
  // vhostd hands the fd over in blocking mode. A blocking write of 32 MiB to a client that
  // does not read would hold the app's only worker: the next request would wait until vhostd
  // killed the worker as hung (heartbeat_timeout 2 s) and handed it to the replacement.
  const stalled = await RawClient.connect(ports.http);
  try {
    stalled.write('GET /big?mb=32 HTTP/1.1\r\nHost: app.test\r\n\r\n');
    const head = await stalled.until('the head of the answer', (buffer) => {
      const end = buffer.indexOf('\r\n\r\n');
      return end < 0 ? null : { value: buffer.subarray(0, end).toString('latin1'), consumed: 0 };
    });
    stalled.socket.pause();   // from now on the kernel's buffers fill up, then the worker's writes wait
    const writer = Number(/\r\nx-pid: (\d+)/i.exec(head)[1]);
    const started = Date.now();
    const response = await request(ports.http, { host: 'app.test', path: '/whoami', timeoutMs: 5000 });
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(response.body).pid, writer, 'answered by the worker that is writing to the stalled client');
    assert.ok(Date.now() - started < 1500, `answered after ${Date.now() - started} ms`);
  } finally {
    stalled.destroy();
  }
});

test('headersTimeout applies to handed connections: half a head gets 408', { timeout: 30000 }, async () => {
  const client = await RawClient.connect(ports.http);
  try {
    client.write('GET / HTTP/1.1\r\nHost: app.test\r\n\r\n');   // vhostd hands over complete heads only
    assert.equal((await client.response()).status, 200);
    const start = Date.now();
    client.write('GET / HTTP/1.1\r\nHost: app.te');             // the next head never ends
    const timedOut = await client.response(8000);
    const elapsed = Date.now() - start;
    assert.equal(timedOut.status, 408);
    await client.closed();
    // headersTimeout is 1 s (checked every 100 ms); keepAliveTimeout is 10 s.
    assert.ok(elapsed >= 900 && elapsed < 5000, `408 after ${elapsed} ms`);
  } finally {
    client.destroy();
  }
});

test('heartbeat counters reach /status: requests, active connections, websockets', { timeout: 30000 }, async () => {
  const before = await site('node');
  for (let i = 0; i < 5; i++) assert.equal((await request(ports.http, { host: 'node.test' })).status, 200);
  await waitFor('5 more requests in /status', async () => (await site('node')).requests >= before.requests + 5);

  const client = await openWebSocket(ports.http, 'node.test');
  try {
    const open = await waitFor('a websocket in /status', async () => {
      const s = await site('node');
      const worker = s.workers.find((w) => w.websockets === 1);
      return s.websockets === 1 && worker && worker.active_connections >= 1 && worker;
    });
    assert.ok(open.pid > 0);
  } finally {
    client.destroy();
  }
  await waitFor('no websocket in /status', async () => (await site('node')).websockets === 0);
});

test('heartbeats carry eventLoopLagMs; ready can wait; drain and a closed channel end the worker with 0', { timeout: 30000 }, async () => {
  // Node's own IPC plays vhostd here: the same channel, seen from the other end.
  const start = (extraEnv) => {
    const child = spawn(process.execPath, [testApp], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, VHOSTD_CHANNEL_FD: '3', VHOSTD_SITE: 'fake', VHOSTD_HEARTBEAT_INTERVAL_MS: '100', ...extraEnv },
    });
    children.add(child);
    child.messages = [];
    child.on('message', (message) => child.messages.push({ at: Date.now(), message }));
    child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    return child;
  };

  const started = Date.now();
  const child = start({ APP_READY_DELAY_MS: '400' });
  const ready = await waitFor('ready', () => child.messages.find((m) => m.message.cmd === 'vhostd:ready'));
  assert.ok(ready.at - started >= 400, `ready after ${ready.at - started} ms`);
  const heartbeat = await waitFor('a heartbeat', () => child.messages.find((m) => m.message.cmd === 'vhostd:heartbeat'));
  assert.equal(child.messages.indexOf(heartbeat), 1, 'the first heartbeat follows ready');
  assert.deepEqual(Object.keys(heartbeat.message).sort(), ['active', 'cmd', 'eventLoopLagMs', 'requests', 'websockets']);
  assert.equal(heartbeat.message.active, 0);
  assert.equal(typeof heartbeat.message.eventLoopLagMs, 'number');
  await waitFor('3 heartbeats, 100 ms apart', () => child.messages.filter((m) => m.message.cmd === 'vhostd:heartbeat').length >= 3, 3000);

  const blockedAt = Date.now();
  child.kill('SIGUSR2');   // blocks its event loop for 300 ms
  const lagging = await waitFor('a heartbeat showing the 300 ms block', () => child.messages.find((m) =>
    m.at > blockedAt && m.message.cmd === 'vhostd:heartbeat' && m.message.eventLoopLagMs >= 200));
  assert.ok(lagging.message.eventLoopLagMs < 5000, `eventLoopLagMs ${lagging.message.eventLoopLagMs}`);

  child.send({ cmd: 'vhostd:drain' });
  assert.deepEqual(await within(child.exited, 10000, 'still running'), { code: 0, signal: null });

  const other = start({});
  await waitFor('ready', () => other.messages.find((m) => m.message.cmd === 'vhostd:ready'));
  other.disconnect();   // as if vhostd were gone
  assert.deepEqual(await within(other.exited, 10000, 'still running'), { code: 0, signal: null });
});

test('reload: the old worker drains (idle connection closed, request in flight finished), exits 0', { timeout: 60000 }, async () => {
  const old = await site('app');
  assert.equal(old.workers.length, 1);
  const oldPid = old.workers[0].pid;

  // An idle kept-alive connection and a request the app answers only once it is draining.
  const idle = await RawClient.connect(ports.http);
  const busy = await RawClient.connect(ports.http);
  try {
    idle.write('GET / HTTP/1.1\r\nHost: app.test\r\n\r\n');
    assert.equal(pidOf((await idle.response()).body), oldPid);
    busy.write('GET /hold HTTP/1.1\r\nHost: app.test\r\n\r\n');
    await waitFor('the held request handed over', async () => (await site('app')).handed_off >= old.handed_off + 2);

    writeConfig(2);   // a changed env: the site's workers roll
    await waitFor(`${vhostctlBin} to exist`, () => fs.existsSync(vhostctlBin), 60000);
    const reload = await run(vhostctlBin, ['-c', config, 'reload']);
    assert.equal(reload.code, 0, reload.stdout + reload.stderr);

    await idle.closed(15000);   // drained: an idle connection is closed at once
    const held = await busy.response(20000);
    assert.equal(held.status, 200);
    assert.equal(held.body, `held until the drain (pid ${oldPid})\n`);
    assert.equal(held.headers.connection, 'close');
    await busy.closed();

    // Heartbeats went on while it drained (longer than heartbeat_timeout), so it was not
    // killed as hung: it exited by itself, with 0.
    await waitFor('the old worker gone', () => processGone(oldPid), 20000);
    await waitFor('its exit in the log', () => vhostdLog.includes(`(pid ${oldPid}): exited with code 0`), 5000);
    const fresh = await request(ports.http, { host: 'app.test' });
    assert.match(fresh.body, /^app 2 \(pid \d+\)\n$/);
    assert.notEqual(pidOf(fresh.body), oldPid);
  } finally {
    idle.destroy();
    busy.destroy();
  }
});

test('vhostd stops gracefully: the Node workers drain and exit 0', { timeout: 30000 }, async () => {
  const pids = (await status()).sites.flatMap((s) => s.workers.map((w) => w.pid));
  vhostd.kill('SIGTERM');
  assert.deepEqual(await within(vhostd.exited, 20000, 'still running'), { code: 0, signal: null });
  for (const pid of pids) assert.ok(vhostdLog.includes(`(pid ${pid}): exited with code 0`), `worker ${pid} did not exit with 0`);
});
