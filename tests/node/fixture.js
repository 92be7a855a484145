'use strict';
// The vhostd the end-to-end tests run against: the example site, the test site (app.js) and,
// when openssl can make a certificate, TLS sites. Started before the first test, stopped after
// the last (with its log shown when a test failed).

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before } = require('node:test');
const { vhostdBin, exampleServer, testApp, freePort, waitFor, within, run, request } = require('./support');

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
workers = 2   # a client resumes its TLS session on either
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
    (await request(ports.admin, { host: 'localhost', path: '/readyz', timeoutMs: 1000 })).status === 200, 20000);
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

// vhostd, its log and the TLS files change after loading: read them as fixture.vhostd etc.
module.exports = {
  work, config, ports, children, writeConfig, status, site,
  get vhostd() { return vhostd; },
  get vhostdLog() { return vhostdLog; },
  get tls() { return tls; },
};
