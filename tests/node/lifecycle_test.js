'use strict';
// A worker's life: heartbeat counters in /status, heartbeats, ready, drain and channel EOF
// (Node's IPC playing vhostd), the reload that rolls workers, the graceful stop.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const { test } = require('node:test');
const { vhostctlBin, testApp, waitFor, within, processGone, run, request, pidOf } = require('./support');
const { RawClient, openWebSocket } = require('./raw_client');
const fixture = require('./fixture');
const { config, ports, children, writeConfig, status, site } = fixture;

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

test('reload: the old worker drains (idle connection closed, requests in flight or mid-head finished), exits 0', { timeout: 60000 }, async () => {
  const old = await site('app');
  assert.equal(old.workers.length, 1);
  const oldPid = old.workers[0].pid;

  // An idle kept-alive connection and a request the app answers only once it is draining.
  // And a kept-alive connection whose next head is half sent when the drain starts.
  const idle = await RawClient.connect(ports.http);
  const busy = await RawClient.connect(ports.http);
  const midHead = await RawClient.connect(ports.http);
  try {
    idle.write('GET / HTTP/1.1\r\nHost: app.test\r\n\r\n');
    assert.equal(pidOf((await idle.response()).body), oldPid);
    midHead.write('GET / HTTP/1.1\r\nHost: app.test\r\n\r\n');
    assert.equal(pidOf((await midHead.response()).body), oldPid);
    midHead.write('GET /second HTTP/1.1\r\nHost: app.test\r\n');
    busy.write('GET /hold HTTP/1.1\r\nHost: app.test\r\n\r\n');
    await waitFor('the held request handed over', async () => (await site('app')).handed_off >= old.handed_off + 2);

    writeConfig(2);   // a changed env: the site's workers roll
    await waitFor(`${vhostctlBin} to exist`, () => fs.existsSync(vhostctlBin), 60000);
    const reload = await run(vhostctlBin, ['-c', config, 'reload']);
    assert.equal(reload.code, 0, reload.stdout + reload.stderr);

    await idle.closed(15000);   // drained: an idle connection is closed at once
    midHead.write('\r\n');     // the rest of the head: the request is served, then the close
    const second = await midHead.response();
    assert.equal(second.status, 200);
    assert.equal(pidOf(second.body), oldPid);
    assert.equal(second.headers.connection, 'close');
    await midHead.closed();
    const held = await busy.response(20000);
    assert.equal(held.status, 200);
    assert.equal(held.body, `held until the drain (pid ${oldPid})\n`);
    assert.equal(held.headers.connection, 'close');
    await busy.closed();

    // Heartbeats went on while it drained (longer than heartbeat_timeout), so it was not
    // killed as hung: it exited by itself, with 0.
    await waitFor('the old worker gone', () => processGone(oldPid), 20000);
    await waitFor('its exit in the log', () => fixture.vhostdLog.includes(`(pid ${oldPid}): exited with code 0`), 5000);
    const fresh = await request(ports.http, { host: 'app.test' });
    assert.match(fresh.body, /^app 2 \(pid \d+\)\n$/);
    assert.notEqual(pidOf(fresh.body), oldPid);
  } finally {
    idle.destroy();
    busy.destroy();
    midHead.destroy();
  }
});

test('vhostd stops gracefully: the Node workers drain and exit 0', { timeout: 30000 }, async () => {
  const pids = (await status()).sites.flatMap((s) => s.workers.map((w) => w.pid));
  fixture.vhostd.kill('SIGTERM');
  assert.deepEqual(await within(fixture.vhostd.exited, 20000, 'still running'), { code: 0, signal: null });
  for (const pid of pids) assert.ok(fixture.vhostdLog.includes(`(pid ${pid}): exited with code 0`), `worker ${pid} did not exit with 0`);
});
