'use strict';
// The test site of tests/node/sdk_test.js: sdk/node serving an http.Server with short
// timeouts, so that they can be seen to apply to handed connections.
//   /whoami        JSON: the client the socket reports, the handoff metadata, the socket kind
//   /big?mb=N      N MiB of body
//   /hold          answers 2.5 s after the worker starts draining (longer than the test's
//                  heartbeat_timeout: vhostd must go on hearing from a draining worker)
//   anything else  "app GENERATION (pid N)"
// SIGUSR2 blocks the event loop for 300 ms (the heartbeat's eventLoopLagMs must show it);
// APP_READY_DELAY_MS=N says ready N ms after start instead of at once. In a passthrough
// site (VHOSTD_TLS_CERT set) the server is an https.Server: the worker terminates TLS.

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const vhostd = require('../../sdk/node');

function busy(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* block the event loop */ }
}

const options = {
  headersTimeout: 1000,
  requestTimeout: 2000,
  keepAliveTimeout: 10000,           // longer than headersTimeout: the 408 must come from the latter
  connectionsCheckingInterval: 100,
};
if (process.env.VHOSTD_TLS_CERT) {
  options.cert = fs.readFileSync(process.env.VHOSTD_TLS_CERT);
  options.key = fs.readFileSync(process.env.VHOSTD_TLS_KEY);
}
const server = (options.cert ? https : http).createServer(options, (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/whoami') {
    const socket = req.socket;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({
      pid: process.pid,
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      remoteFamily: socket.remoteFamily,
      localPort: socket.localPort,
      encrypted: Boolean(socket.encrypted),
      handle: socket._handle && socket._handle.constructor.name,   // TCP; Pipe for a socketpair; TLSWrap
      info: vhostd.connectionInfo(req),
    }));
  } else if (url.pathname === '/big') {
    res.setHeader('X-Pid', process.pid);
    res.end(Buffer.alloc(Number(url.searchParams.get('mb') || 1) << 20, 0x62));
  } else if (url.pathname === '/hold') {
    const answer = () => setTimeout(() => res.end(`held until the drain (pid ${process.pid})\n`), 2500);
    if (worker.draining) answer();
    else worker.once('drain', answer);
  } else {
    res.end(`app ${process.env.APP_GENERATION || ''} (pid ${process.pid})\n`);
  }
});

process.on('SIGUSR2', () => busy(300));

const delay = Number(process.env.APP_READY_DELAY_MS || 0);
const worker = vhostd.serve(server, { ready: delay === 0 });
if (delay > 0) setTimeout(() => worker.ready(), delay);
