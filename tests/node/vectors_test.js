'use strict';
// The vectors shared by the C++, Node and Python suites (tests/vectors/): the host grammar,
// what sdk/node reads from vhostd's channel messages, and the heartbeat interval. The lines
// a worker must refuse go to a real Node process on a socketpair channel, as vhostd's are.
//
//   node tests/node/vectors_test.js

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { test } = require('node:test');

const repo = path.resolve(__dirname, '../..');
const sdk = path.join(repo, 'sdk/node');
const { normalizeHost, sameHost } = require(sdk);
const channel = require(path.join(sdk, 'channel'));
const { parseRequestHead, HeadRefused, chunkSize } = require(path.join(sdk, 'request_head'));
const { plainHead } = require(path.join(sdk, 'request_stream'));
const hosts = require(path.join(repo, 'tests/vectors/hosts.json'));
const requests = require(path.join(repo, 'tests/vectors/requests.json'));
const vectors = require(path.join(repo, 'tests/vectors/channel.json'));
const WAIT_MS = 5000;

// A request vector's head and body, as the 'latin1' strings of their UTF-8 bytes
// (tests/vectors/requests.json's _about: "<repeat>" expanded).
function requestOf(vector) {
  let head = vector.head;
  if (vector.repeat) head = head.replace('<repeat>', vector.repeat.text.repeat(vector.repeat.count));
  const bytes = (text) => Buffer.from(text, 'utf8').toString('latin1');
  return { head: bytes(head), body: bytes(vector.body || '') };
}

// The parser's reading in the vectors' terms.
function readingOf(data) {
  let head;
  try {
    head = parseRequestHead(data);
  } catch (error) {
    if (!(error instanceof HeadRefused)) throw error;
    return { status: error.status };
  }
  if (head === null) return null;
  const reading = { status: 0, host: head.host, framing: head.framing, length: head.length };
  if (head.framing === 'length') reading.content_length = Number(head.contentLength);
  if (head.expectContinue) reading.expect_continue = true;
  return reading;
}

// A vector's line; "long": N is a line of exactly N bytes that vhostd could send.
function vectorLine(vector) {
  if (vector.long === undefined) return vector.line;
  const head = '{"cmd":"vhostd:padding","pad":"';
  const tail = '"}';
  return head + 'a'.repeat(vector.long - head.length - tail.length) + tail;
}

// What the SDK reads from `message`, in the vectors' terms (see channel.json's _about).
function decodedFields(message) {
  switch (message.cmd) {
    case 'NODE_HANDLE': {
      const info = channel.connectionInfoOf(message.msg);
      assert.deepEqual(info.raw, message.msg);
      return { connection: { ...info } };
    }
    case 'vhostd:message':
      return { message: { data: channel.dataOf(message), from: channel.senderOf(message) } };
    case 'vhostd:reply': {
      const id = channel.callIdOf(message);
      return { reply: id === null ? { id } : { id, ...channel.replyOutcome(message) } };
    }
    case 'vhostd:call': {
      const id = channel.callIdOf(message);
      if (id === null) return { call: { id } };
      const args = message.args === undefined ? null : message.args;
      return { call: { id, method: message.method, args, from: channel.senderOf(message) } };
    }
    case 'vhostd:task':
      return { task: channel.taskNameOf(message) };
    case 'vhostd:undeliverable':
      return { undeliverable: channel.undeliverableOf(message) };
    case 'vhostd:drain':
      return {};
    default:
      return { ignored: true };
  }
}

const KINDS = ['connection', 'message', 'reply', 'call', 'task', 'undeliverable', 'ignored'];

test('hosts.json: normalize', () => {
  for (const vector of hosts.normalize) {
    assert.equal(normalizeHost(vector.raw), vector.host, JSON.stringify(vector));
    if (vector.host !== null) assert.equal(normalizeHost(vector.host), vector.host, `${vector.host} reads back as itself`);
  }
});

test('hosts.json: same_host', () => {
  for (const vector of hosts.same_host) {
    assert.equal(sameHost(vector.a, vector.b), vector.same, JSON.stringify(vector));
    assert.equal(sameHost(vector.b, vector.a), vector.same, JSON.stringify(vector));
  }
  assert.equal(sameHost(undefined, 'blog.example'), false);
});

test('requests.json: heads', () => {
  assert.ok(requests.heads.length > 100);
  for (const vector of requests.heads) {
    const { head, body } = requestOf(vector);
    const expected = { status: vector.status };
    if (vector.status === 0) {
      Object.assign(expected, { host: vector.host, framing: vector.framing, length: head.length });
      if ('content_length' in vector) expected.content_length = vector.content_length;
      if (vector.expect_continue) expected.expect_continue = true;
    }
    assert.deepEqual(readingOf(head + body), expected, vector.name);
  }
});

test('requests.json: every prefix of a head is refused alike or needs more', () => {
  for (const vector of requests.heads) {
    const { head } = requestOf(vector);
    if (head.length > 1024) continue;
    for (let cut = 0; cut < head.length; cut++) {
      const reading = readingOf(head.slice(0, cut));
      if (reading !== null) assert.deepEqual(reading, { status: vector.status }, `${vector.name}, cut at ${cut}`);
      if (reading !== null) assert.notEqual(vector.status, 0, `${vector.name}, cut at ${cut}`);
    }
  }
});

// RequestStream passes a head the parser calls plain on as it came, instead of plainHead()'s
// rewrite: that is only right when the rewrite would change nothing.
test('a head read as plain is the one plainHead() writes', () => {
  const lines = ['Host: a.example', 'Host:a.example', 'Host: a.example ', 'Host:\ta.example',
    'Accept: */*', 'X-Empty:', 'X-Empty: ', 'Content-Length: 3', 'Content-Length:  3',
    'Connection: close', 'Connection: keep-alive, close', 'Connection: ,close', 'Connection: ',
    'Connection: upgrade', 'Upgrade: websocket', 'Upgrade: ', 'Proxy-Connection: keep-alive',
    'Transfer-Encoding: chunked', 'X-Tab: a\tb'];
  const heads = [];
  for (const a of lines) {
    for (const b of lines) heads.push(`GET / HTTP/1.1\r\n${a}\r\n${b}\r\n\r\n`, `\r\nPOST /x HTTP/1.0\r\n${a}\r\n${b}\r\n\r\n`);
  }
  for (const vector of requests.heads) if (vector.status === 0) heads.push(requestOf(vector).head);
  let plain = 0;
  for (const text of heads) {
    let head;
    try {
      head = parseRequestHead(text);
    } catch (error) {
      if (error instanceof HeadRefused) continue;
      throw error;
    }
    if (head === null || !head.plain) continue;
    plain++;
    for (const upgrade of [false, true]) assert.equal(plainHead(head, upgrade), text.slice(0, head.length), JSON.stringify(text));
  }
  assert.ok(plain > 50, `only ${plain} heads read as plain`);
  assert.equal(parseRequestHead('GET / HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\r\n').plain, true);
});

test('chunk sizes: 1*HEXDIG, then extensions', () => {
  assert.equal(chunkSize('5'), 5n);
  assert.equal(chunkSize('00aF'), 0xafn);
  assert.equal(chunkSize('3;name=value'), 3n);
  assert.equal(chunkSize('3 ;name'), 3n);
  for (const bad of ['', '0x5', '+5', '-5', ' 5', '5 ', '5;', 'g', '1_0', '5 x', `1${'0'.repeat(16)}`]) assert.equal(chunkSize(bad), null, bad);
});

test('channel.json: decoded', () => {
  for (const vector of vectors.decoded) {
    const message = JSON.parse(vectorLine(vector));
    assert.ok(channel.isCommand(message), vector.name);
    assert.equal(message.cmd, vector.cmd, vector.name);
    const expected = Object.fromEntries(KINDS.filter((k) => k in vector).map((k) => [k, vector[k]]));
    assert.deepEqual(decodedFields(message), expected, vector.name);
  }
});

test('channel.json: heartbeat_interval', () => {
  for (const vector of vectors.heartbeat_interval) {
    const env = vector.env === null ? undefined : vector.env;
    assert.equal(channel.heartbeatIntervalMs(env), vector.ms, JSON.stringify(vector));
  }
});

// A Node process on the SDK, started the way vhostd starts one: the channel at fd 3 (one end
// of a socketpair: Node's 'pipe' stdio), Node's IPC on it in JSON mode. Resolves with its exit
// code, or with 'running' when it still runs after WAIT_MS or once `enough(lines)` (and is
// killed then), and the lines it wrote.
function runWorkerWith(line, enough = () => false) {
  return new Promise((resolve) => {
    const env = { ...process.env, VHOSTD_CHANNEL_FD: '3', VHOSTD_ROLE: 'singleton', VHOSTD_SITE: 'vectors',
      NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json', NODE_NO_WARNINGS: '1' };
    const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(sdk)}).singleton({})`],
      { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const fromWorker = [];
    let buffer = '';
    let sent = false;
    child.stdio[3].on('data', (data) => {
      buffer += data;
      const lines = buffer.split('\n');
      buffer = lines.pop();
      for (const text of lines) {
        fromWorker.push(JSON.parse(text));
        if (!sent && fromWorker.at(-1).cmd === 'vhostd:ready') {
          sent = true;
          child.stdio[3].write(`${line}\n`);
        }
      }
      if (sent && enough(fromWorker)) stop();
    });
    child.stdio[3].on('error', () => {});
    child.stderr.resume();
    const stop = () => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.kill('SIGKILL');
      resolve({ status: 'running', fromWorker });
    };
    const timer = setTimeout(stop, WAIT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: signal || code, fromWorker });
    });
  });
}

test('channel.json: refused lines end a real worker', async () => {
  for (const vector of vectors.refused) {
    if (vector.node === 'unlimited') continue;   // Node's IPC has no line limit: nothing to check
    const nacked = (lines) => lines.some((m) => m.cmd === 'NODE_HANDLE_NACK');
    const { status, fromWorker } = await runWorkerWith(vectorLine(vector), vector.node === 'nack' ? nacked : undefined);
    if (vector.node === 'nack') {
      assert.ok(nacked(fromWorker), `${vector.name}: NODE_HANDLE_NACK expected`);
      assert.equal(status, 'running', `${vector.name}: the worker goes on after a NACK`);
      continue;
    }
    let json = true;
    try {
      JSON.parse(vectorLine(vector));
    } catch {
      json = false;   // Node's IPC throws: the process ends with status 1
    }
    assert.equal(status, json ? 0 : 1, `${vector.name}: ${json ? 'the SDK drains and exits 0' : "Node's IPC throws"}`);
  }
});
