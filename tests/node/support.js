'use strict';
// What the Node SDK's end-to-end tests share: the programs under test, free ports, bounded
// waits, child processes and one-request HTTP.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { setTimeout: delay } = require('node:timers/promises');
const util = require('node:util');

const repo = path.resolve(__dirname, '../..');
const vhostdBin = process.argv[2] || process.env.VHOSTD_BIN || path.join(repo, 'build/bin/vhostd');
const vhostctlBin = process.argv[3] || process.env.VHOSTCTL_BIN || path.join(path.dirname(vhostdBin), 'vhostctl');
const exampleServer = path.join(repo, 'examples/node-site/server.js');
const testApp = path.join(__dirname, 'app.js');
const NODE_MAJOR = 20;

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

module.exports = {
  repo, vhostdBin, vhostctlBin, exampleServer, testApp, NODE_MAJOR,
  freePort, waitFor, within, processGone, run, request, GREETING, pidOf,
};
