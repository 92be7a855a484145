'use strict';
// The vhostd worker SDK for Node.js (no dependencies). docs/protocol.md is the contract.
//
//   const server = http.createServer(app);          // Express, Koa, a plain handler; ws too
//   require('./sdk/node').serve(server);            // instead of server.listen()
//
// vhostd starts the worker with NODE_CHANNEL_FD=3 (a site with runtime = "node"), so Node's
// own IPC reads the channel: it acknowledges each NODE_HANDLE itself (NODE_HANDLE_NACK when
// no fd came with it) and emits process 'message' (metadata, socket). serve() hands each
// socket to the server as if the server had accepted it, says ready, sends heartbeats,
// answers 421 to requests for another host, and drains on vhostd:drain or when the
// channel closes.
//
// The processes of one site also talk through vhostd (docs/protocol.md, section 12):
// worker.send(to, data), worker.call(method, args) and the 'message' and 'task' events, and
// singleton({ methods }) for the site's singleton process, which answers those calls.

const net = require('node:net');
const { normalizeHost, sameHost } = require('./host');
const { isWorker, role, CallError, Singleton } = require('./site_process');
const { Worker, connectionInfo } = require('./http_worker');

// Serves the connections vhostd hands to this process with `server` (an http.Server or
// https.Server: HTTP, keep-alive, pipelining, 'upgrade', the server's timeouts; or a plain
// net.Server, which gets each connection as a 'connection' and does the rest itself).
// Options: { ready: false } to say ready later with worker.ready(); { exit: false } to be
// told 'drained' instead of the process exiting 0 once draining is done.
// Returns the Worker (an EventEmitter: 'drain', 'drained', and the bus's 'message', 'task',
// 'undeliverable'; send() and call() reach the site's other processes).
function serve(server, options = {}) {
  if (!(server instanceof net.Server)) throw new TypeError('serve() needs a net.Server (http.Server, https.Server)');
  const worker = new Worker(server, options);
  worker._start(options);
  return worker;
}

// Runs this process as the site's singleton (VHOSTD_ROLE=singleton): says ready (unless
// { ready: false }), sends heartbeats, answers calls with options.methods
// ({ name: (args, from) => result or promise }), and on vhostd:drain or a closed channel
// finishes the calls in progress and exits 0 ({ exit: false }, or a 'drained' listener: the
// app exits). Returns the Singleton: send(), call(), onCall(), the same events as a Worker.
function singleton(options = {}) {
  const instance = new Singleton(options);
  instance._start(options);
  return instance;
}

module.exports = { serve, singleton, isWorker, role, connectionInfo, normalizeHost, sameHost, CallError, Worker, Singleton };
