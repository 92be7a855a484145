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

const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const { EventEmitter } = require('node:events');
const { performance } = require('node:perf_hooks');
const util = require('node:util');
const { normalizeHost, sameHost } = require('./host');
const channel = require('./channel');

const LAG_SAMPLE_MS = 20;
const MAX_LINE = 64 * 1024;          // the channel's line limit (protocol.md section 3)
const CALL_TIMEOUT_MS = 5000;        // vhostd's default for a call
const CALL_TIMEOUT_MAX_MS = 600000;
// vhostd answers a call that timed out itself; this margin only covers a vhostd that
// never answers, so that every call settles.
const CALL_MARGIN_MS = 1000;

// True when vhostd started this process with Node's IPC on the channel.
function isWorker() {
  return process.env.VHOSTD_CHANNEL_FD !== undefined && typeof process.send === 'function';
}

// The role vhostd started this process in (VHOSTD_ROLE): 'worker', or 'singleton' for the
// site's singleton process, which gets no connections.
function role() {
  return process.env.VHOSTD_ROLE || 'worker';
}

function checkChannel() {
  const channelMissing = process.env.VHOSTD_CHANNEL_FD !== undefined && typeof process.send !== 'function';
  if (channelMissing) {
    throw new Error('vhostd started this process without Node\'s IPC channel: give the site ' +
      'runtime = "node" (or env NODE_CHANNEL_FD = "3", NODE_CHANNEL_SERIALIZATION_MODE = "json")');
  }
  if (!isWorker()) throw new Error('not started by vhostd (no VHOSTD_CHANNEL_FD): listen instead');
}

// One connection vhostd handed over, with the requests it has carried.
class Connection {
  constructor(socket, info) {
    this.socket = socket;
    this.info = info;
    this.responses = new Set();   // dispatched, not yet closed (pipelining queues several)
    this.upgraded = false;
    this.misdirected = false;     // answered 421: closing, nothing more reaches the app
    // vhostd checked the first request's Host. A passthrough connection was routed by SNI,
    // which may be missing or an IP address: like hello-worker, no check there.
    const passthrough = info.tls && info.tls.mode === 'passthrough';
    this.routedHost = passthrough ? '' : (info.host || '');
  }
}

const connections = new WeakMap();   // handed socket -> Connection

// The handoff metadata of a request's or socket's connection (id, site, remoteAddress,
// remotePort, localAddress, localPort, host, websocket, headLength, tls: each of its type,
// tls null without TLS; raw: the message as sent), or undefined for a connection vhostd did
// not hand over.
function connectionInfo(reqOrSocket) {
  const socket = reqOrSocket && (reqOrSocket.socket || reqOrSocket);
  const connection = connectionOf(socket);
  return connection && connection.info;
}

function connectionOf(socket) {
  if (!socket) return undefined;
  // An https.Server (passthrough site) serves a TLSSocket wrapped around the handed socket.
  return connections.get(socket) || (socket._parent && connections.get(socket._parent));
}

// The socket reports the client vhostd names, not its own peer: a terminated TLS
// connection arrives on an AF_UNIX socketpair that has no peer address, and behind the
// PROXY protocol the TCP peer is the balancer. Own properties shadow net.Socket's getters,
// so req.socket.remoteAddress (and Express's req.ip) are the client's.
function describeClient(socket, info) {
  const family = (address) => (net.isIPv6(address) ? 'IPv6' : 'IPv4');
  const value = (v) => ({ value: v, configurable: true, enumerable: false, writable: true });
  Object.defineProperties(socket, {
    remoteAddress: value(info.remoteAddress),
    remotePort: value(info.remotePort),
    remoteFamily: value(family(info.remoteAddress)),
    localAddress: value(info.localAddress),
    localPort: value(info.localPort),
    localFamily: value(family(info.localAddress)),
  });
  // Express (req.protocol, req.secure) and Koa read this to know the client used HTTPS.
  if (info.tls && info.tls.mode === 'terminate') socket.encrypted = true;
}

function rawResponse(status, reason, body) {
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

// Our FIN after what is queued, then close, without waiting for the client's FIN.
function closeGently(socket) {
  if (socket.destroyed) return;
  if (socket.writableFinished) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  if (!socket.writableEnded) socket.end();
}

// A call that ended in an error instead of a result: the singleton's (its handler threw),
// vhostd's (no singleton ready, no reply in time) or the SDK's (the channel closed).
class CallError extends Error {
  constructor(method, message) {
    super(message);
    this.name = 'CallError';
    this.method = method;
  }
}

// `to` of vhostd:send: 'singleton', 'worker', 'workers', or one process by pid, given as a
// number or as anything with a pid (such as the `from` of a message).
function address(to) {
  if (to === 'singleton' || to === 'worker' || to === 'workers') return to;
  const pid = to !== null && typeof to === 'object' ? to.pid : to;
  if (Number.isSafeInteger(pid) && pid > 0) return { pid };
  throw new TypeError(`vhostd: cannot send to ${util.inspect(to)}: ` +
    "expected 'singleton', 'worker', 'workers', a pid or { pid }");
}

// vhostd takes a line over 64 KiB for a broken process and kills it: refuse to write one.
// (process.send writes JSON.stringify(message) and a newline.)
function checkSize(message) {
  const length = Buffer.byteLength(JSON.stringify(message));
  if (length > MAX_LINE) {
    throw new RangeError(`vhostd: a ${message.cmd} line of ${length} bytes; the channel allows 64 KiB`);
  }
}

function errorText(error) {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.length > 4096 ? `${text.slice(0, 4096)}…` : text;
}

// One process of a site on vhostd's channel: ready, heartbeats, drain, and the site's
// message bus (docs/protocol.md, section 12). serve() makes a Worker, singleton() a
// Singleton. Events: 'message' (data, from), 'task' (name), 'undeliverable' (report),
// 'drain', 'drained'.
class SiteProcess extends EventEmitter {
  constructor(options) {
    super();
    this.role = role();
    this.site = process.env.VHOSTD_SITE || '';
    this.slot = Number(process.env.VHOSTD_WORKER_SLOT || 0);
    this.generation = Number(process.env.VHOSTD_GENERATION || 0);
    this.draining = false;
    this._exitWhenDrained = options.exit !== false;
    this._readySent = false;
    this._heartbeatTimer = null;
    this._interval = channel.heartbeatIntervalMs(process.env.VHOSTD_HEARTBEAT_INTERVAL_MS);
    this._lagTimer = null;
    this._lastSample = performance.now();
    this._maxLag = 0;
    this._drained = false;
    this._nextId = 1;              // ids of sends and calls, unique in this process
    this._calls = new Map();       // our calls waiting for a reply: id -> { method, resolve, reject, timer }
    this._methods = new Map();     // what this process answers calls with (the singleton's)
    this._answering = 0;           // calls to this process not answered yet
    this._refusing = false;        // after a protocol error: nothing more is read
  }

  // Tells vhostd this process can serve: a worker gets connections only after this, and the
  // site's workers start only once its singleton is ready. serve() and singleton() call it
  // unless given { ready: false }.
  ready() {
    if (this._readySent) return this;
    this._readySent = true;
    this._send({ cmd: 'vhostd:ready' });
    this._heartbeat();
    // Unref'd: the channel, not the heartbeat, keeps the process alive.
    this._heartbeatTimer = setInterval(() => this._heartbeat(), this._interval).unref();
    return this;
  }

  // Counters of the heartbeat: a process without connections has none.
  stats() {
    return { active: 0, requests: 0, websockets: 0 };
  }

  // Sends `data` (any JSON value) to processes of this site: 'singleton', 'worker' (one,
  // at random), 'workers' (all but this one) or a pid ({ pid }, or a message's `from`).
  // Returns the message's id. There is no delivery receipt: a message that reached nobody
  // comes back as an 'undeliverable' event { id, to, reason }, logged when nobody listens.
  // Throws a TypeError for a bad `to` or data JSON cannot carry, a RangeError over 64 KiB.
  send(to, data) {
    const id = this._nextId++;
    const message = { cmd: 'vhostd:send', to: address(to), id, data: data === undefined ? null : data };
    checkSize(message);
    if (!this._send(message)) {
      // Reported like vhostd's own reports, after send() has returned the id.
      process.nextTick(() => this._undeliverable({ id, to: message.to, reason: 'the channel to vhostd is closed' }));
    }
    return id;
  }

  // Calls `method` of the site's singleton with `args` (any JSON value, or undefined for
  // none). Resolves to its result; rejects with a CallError carrying the singleton's error,
  // vhostd's (no singleton ready, no reply within timeoutMs) or the SDK's. Always settles:
  // the SDK gives up a little after timeoutMs (default 5000, at most 600000) by itself.
  call(method, args, { timeoutMs = CALL_TIMEOUT_MS } = {}) {
    return new Promise((resolve, reject) => {
      if (typeof method !== 'string' || method === '') throw new TypeError('vhostd: call() needs a method name');
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > CALL_TIMEOUT_MAX_MS) {
        throw new RangeError(`vhostd: call() timeoutMs must be an integer from 1 to ${CALL_TIMEOUT_MAX_MS}`);
      }
      const id = this._nextId++;
      const message = { cmd: 'vhostd:call', id, method, timeoutMs };
      if (args !== undefined) message.args = args;
      checkSize(message);
      if (!this._send(message)) throw new CallError(method, 'the channel to vhostd is closed');
      // Unref'd: a pending call does not keep the process alive; the channel does, and
      // when it closes every pending call is rejected.
      const timer = setTimeout(() => this._settle(id, { error: `no reply within ${timeoutMs} ms` }),
        timeoutMs + CALL_MARGIN_MS).unref();
      this._calls.set(id, { method, resolve, reject, timer });
    });
  }

  // What vhostd:drain and a closed channel do: the process finishes what it is doing, then
  // exits 0 (or emits 'drained' if the app listens for it, and lets the app exit).
  drain() {
    if (this.draining) return;
    this.draining = true;
    this.emit('drain');
    this._finishIfDrained();
  }

  _start(options) {
    checkChannel();
    this._prepare();
    process.on('message', (message, handle) => {
      if (this._refusing) {
        if (handle && typeof handle.destroy === 'function') handle.destroy();
      } else if (handle) {
        this._handed(channel.connectionInfoOf(message), handle);
      } else if (channel.isCommand(message)) {
        this._receive(message);
      } else {
        this._protocolError('a line that is not a JSON object with a "cmd"');
      }
    });
    process.on('disconnect', () => this._disconnected());   // vhostd is gone: finish and exit
    this._lagTimer = setInterval(() => this._sampleLag(), LAG_SAMPLE_MS).unref();
    if (options.ready !== false) this.ready();
  }

  // Set-up between the channel check and the first message.
  _prepare() {}

  // A connection vhostd handed over: only a worker serves them.
  _handed(info, handle) {
    if (typeof handle.destroy === 'function') handle.destroy();
  }

  _receive(message) {
    switch (message.cmd) {
      case 'vhostd:drain':
        this.drain();
        break;
      case 'vhostd:message':
        this.emit('message', channel.dataOf(message), channel.senderOf(message));
        break;
      case 'vhostd:task':
        if (channel.taskNameOf(message) !== null) this.emit('task', channel.taskNameOf(message));
        break;
      case 'vhostd:undeliverable':
        this._undeliverable(channel.undeliverableOf(message));
        break;
      case 'vhostd:reply':
        if (channel.callIdOf(message) !== null) this._settle(channel.callIdOf(message), message);
        break;
      case 'vhostd:call':
        this._answer(message);
        break;
      // Anything else (a later vhostd:* command, the app's own messages) is ignored.
    }
  }

  _undeliverable(report) {
    if (this.listenerCount('undeliverable') > 0) {
      this.emit('undeliverable', report);
    } else {
      process.emitWarning(`vhostd: message ${report.id} to ${JSON.stringify(report.to)} was not delivered: ` +
        `${report.reason}`);
    }
  }

  // Settles our call `id` with a vhostd:reply (or the SDK's own error).
  _settle(id, reply) {
    const call = this._calls.get(id);
    if (!call) return;   // settled already: a reply after the SDK gave up
    this._calls.delete(id);
    clearTimeout(call.timer);
    const { error, result } = channel.replyOutcome(reply);
    if (error !== null) call.reject(new CallError(call.method, error));
    else call.resolve(result);
  }

  // A call to this process: the handler's value, thrown error or rejection goes back in one
  // vhostd:reply. Calls run concurrently.
  async _answer(call) {
    if (channel.callIdOf(call) === null) return;   // no id to answer to
    this._answering++;
    let reply;
    try {
      const handler = this._methods.get(call.method);
      if (typeof handler !== 'function') throw new Error(`unknown method ${JSON.stringify(call.method)}`);
      const result = await handler(call.args, channel.senderOf(call));
      reply = { cmd: 'vhostd:reply', id: call.id, result: result === undefined ? null : result };
      checkSize(reply);   // also throws for a result JSON cannot carry
    } catch (error) {
      reply = { cmd: 'vhostd:reply', id: call.id, error: errorText(error) };
    }
    this._send(reply);
    this._answering--;
    this._finishIfDrained();
  }

  _disconnected() {
    this._failCalls('the channel to vhostd closed before the reply');
    this.drain();
  }

  // vhostd's side broke the protocol (section 9): as the other SDKs, read nothing more from
  // the channel and drain. (Node's IPC itself throws on a line that is not JSON.)
  _protocolError(reason) {
    process.emitWarning(`vhostd channel: ${reason}; draining`);
    this._refusing = true;
    this._failCalls('the channel to vhostd broke the protocol before the reply');
    this.drain();
  }

  _failCalls(error) {
    for (const id of [...this._calls.keys()]) this._settle(id, { error });
  }

  // Work that holds the exit back after a drain.
  _busy() {
    return this._answering > 0;
  }

  _finishIfDrained() {
    if (!this.draining || this._busy() || this._drained) return;
    this._drained = true;
    if (this.listenerCount('drained') > 0 || !this._exitWhenDrained) {
      this.emit('drained');   // the app exits when it is done; heartbeats go on until then
      return;
    }
    // Not at once: calls the channel's close has just rejected get to run their handlers.
    setImmediate(() => process.exit(0));
  }

  _sampleLag() {
    const now = performance.now();
    this._maxLag = Math.max(this._maxLag, now - this._lastSample - LAG_SAMPLE_MS);
    this._lastSample = now;
  }

  _heartbeat() {
    this._sampleLag();
    const lag = Math.round(Math.max(0, this._maxLag) * 10) / 10;
    this._maxLag = 0;
    this._send({ cmd: 'vhostd:heartbeat', ...this.stats(), eventLoopLagMs: lag });
  }

  // False when the channel is closed.
  _send(message) {
    // After the channel closed, process.send would emit an 'error' that nobody handles.
    if (!process.connected) return false;
    process.send(message, () => {});
    return true;
  }
}

// The site's singleton (VHOSTD_ROLE=singleton): no connections; answers the workers' calls.
class Singleton extends SiteProcess {
  constructor(options) {
    super(options);
    for (const [name, handler] of Object.entries(options.methods || {})) this.onCall(name, handler);
  }

  // Answers calls of `name` with handler(args, from): its value (or a promise of it) is the
  // result, a throw or a rejection the caller's error.
  onCall(name, handler) {
    if (typeof handler !== 'function') throw new TypeError(`vhostd: the handler of ${name} is not a function`);
    this._methods.set(name, handler);
    return this;
  }
}

class Worker extends SiteProcess {
  constructor(server, options) {
    super(options);
    this.server = server;
    this.http = server instanceof http.Server || server instanceof https.Server;
    this._live = new Set();
    this._requests = 0;
    this._websockets = 0;
  }

  // Counters of the heartbeat. `requests` counts requests passed to the server's handlers
  // (for a non-HTTP server: calls to requestServed()).
  stats() {
    return { active: this._live.size, requests: this._requests, websockets: this._websockets };
  }

  requestServed() {
    this._requests++;
  }

  // What vhostd:drain and a closed channel do: stop taking requests on kept-alive
  // connections, let active ones finish, then exit 0 (or emit 'drained' if the app listens
  // for it, and let the app exit). WebSocket sessions are the app's to end ('drain' event).
  drain() {
    if (this.draining) return;
    this.draining = true;
    this.emit('drain');
    if (this.http) {
      for (const connection of this._live) {
        for (const res of connection.responses) this._lastResponse(res);
      }
      // Idle as Node's parser sees it: between two requests, no part of the next head
      // received. A connection handed a moment ago, its first request not parsed yet, is
      // not idle: it gets its answer, with Connection: close.
      this.server.closeIdleConnections();
    }
    this._finishIfDrained();
  }

  _prepare() {
    const server = this.server;
    if (this.http) {
      this._trackTimeouts(server);
      this._filterEvents(server);
      // A passthrough site's https.Server wraps the handed socket in a TLSSocket: it must
      // report the client too.
      if (server instanceof https.Server) {
        server.prependListener('secureConnection', (tlsSocket) => {
          const connection = connectionOf(tlsSocket);
          if (connection) describeClient(tlsSocket, connection.info);
        });
      }
    }
  }

  _handed(info, handle) {
    if (handle instanceof net.Socket) this._accept(handle, info);
    else super._handed(info, handle);
  }

  _busy() {
    return this._live.size > 0 || super._busy();
  }

  // http.Server starts the checker of headersTimeout and requestTimeout, and the list of
  // connections it checks and closeIdleConnections() closes, in setupConnectionsTracking,
  // which runs on 'listening' (lib/_http_server.js). A server that never listens would never
  // enforce them. Run that function, not 'listening' itself: the app's 'listening' handlers
  // (which often log server.address()) must not run for a server that listens nowhere.
  // It must run before the first connection: the parser joins the list when it is set up.
  _trackTimeouts(server) {
    let setup;
    try {
      setup = require('_http_server').setupConnectionsTracking;
    } catch {
      setup = undefined;
    }
    if (typeof setup !== 'function') {
      setup = server.listeners('listening').find((f) => f.name === 'setupConnectionsTracking');
    }
    if (typeof setup === 'function') {
      setup.call(server);
    } else {
      process.emitWarning('vhostd: cannot start http.Server connection tracking; ' +
        'headersTimeout and requestTimeout are not enforced');
    }
  }

  // Requests reach the app's handlers through server.emit: the only place to answer 421
  // before any 'request' listener, wherever the app adds them, sees the request.
  _filterEvents(server) {
    const emit = server.emit;
    const worker = this;
    server.emit = function vhostdEmit(event, a, b) {
      switch (event) {
        case 'request':
        case 'checkContinue':
        case 'checkExpectation':
          if (!worker._admitRequest(a, b)) return true;
          break;
        case 'upgrade':
        case 'connect':
          if (!worker._admitUpgrade(event, a, b)) return true;
          break;
      }
      return Reflect.apply(emit, this, arguments);
    };
  }

  _admitRequest(req, res) {
    const connection = connectionOf(req.socket);
    if (!connection) {
      this._requests++;   // a connection the server accepted itself
      return true;
    }
    if (connection.misdirected) return false;   // the connection closes after the 421
    connection.responses.add(res);
    res.once('close', () => {
      connection.responses.delete(res);
      // Draining, and its headers went out before: the connection may be idle now.
      if (this.draining) this.server.closeIdleConnections();
    });
    if (connection.routedHost && !sameHost(req.headers.host, connection.routedHost)) {
      connection.misdirected = true;
      const body = `421 this connection is for ${connection.routedHost}\n`;
      res.writeHead(421, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
      res.end(body);
      return false;
    }
    if (this.draining) this._lastResponse(res);
    this._requests++;
    return true;
  }

  _admitUpgrade(event, req, socket) {
    const connection = connectionOf(socket);
    if (!connection) return true;
    if (connection.misdirected) {
      socket.destroy();
      return false;
    }
    if (connection.routedHost && !sameHost(req.headers.host, connection.routedHost)) {
      connection.misdirected = true;
      socket.write(rawResponse(421, 'Misdirected Request', `421 this connection is for ${connection.routedHost}\n`));
      closeGently(socket);
      return false;
    }
    if (event === 'upgrade') {
      // A WebSocket (or other upgraded) session counts until its socket closes.
      connection.upgraded = true;
      this._websockets++;
    }
    return true;
  }

  // The response ends the connection: Node sends Connection: close and closes after it.
  // Headers already sent: the connection is closed once idle (see _admitRequest).
  _lastResponse(res) {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  }

  _accept(socket, info) {
    const server = this.server;
    // vhostd hands the fd over in blocking mode (docs/protocol.md, section 6), and libuv
    // leaves a received handle as it comes. Blocking, one slow client's write, or a read that
    // fills libuv's buffer exactly, would stall the whole event loop.
    if (socket._handle && typeof socket._handle.setBlocking === 'function') socket._handle.setBlocking(false);
    // What net.Server does for a socket it accepts, from the server's options.
    if (server.noDelay) socket.setNoDelay(true);
    if (server.keepAlive) socket.setKeepAlive(true, (server.keepAliveInitialDelay || 0) * 1000);
    socket.allowHalfOpen = Boolean(server.allowHalfOpen);
    if (info.remoteAddress) describeClient(socket, info);

    const connection = new Connection(socket, info);
    connections.set(socket, connection);
    this._live.add(connection);
    socket.once('close', () => {
      this._live.delete(connection);
      if (connection.upgraded) this._websockets--;
      this._finishIfDrained();
    });
    server.emit('connection', socket);
  }

}

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
