'use strict';
// HTTP/1.1 behind vhostd: both workers, keep-alive, pipelining, bodies, 421 for another host,
// a stalled client, headersTimeout.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { test } = require('node:test');
const { run, request, pidOf } = require('./support');
const { RawClient } = require('./raw_client');
const { work, ports, site } = require('./fixture');

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
  await RawClient.using(ports.http, async (client) => {
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
  });
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

test('421 for a later request on the connection for another host', { timeout: 30000 }, async () => {
  await RawClient.using(ports.http, async (client) => {
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
  });
});


test('a client that does not read stalls nobody else (the handed socket is non-blocking)', { timeout: 30000 }, async () => {
  // vhostd hands the fd over in blocking mode. A blocking write of 32 MiB to a client that
  // does not read would hold the app's only worker: the next request would wait until vhostd
  // killed the worker as hung (heartbeat_timeout 2 s) and handed it to the replacement.
  await RawClient.using(ports.http, async (stalled) => {
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
  });
});

test('headersTimeout applies to handed connections: half a head gets 408', { timeout: 30000 }, async () => {
  await RawClient.using(ports.http, async (client) => {
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
  });
});
