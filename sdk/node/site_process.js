'use strict';
// One process of a site on vhostd's channel (docs/protocol.md): ready, heartbeats, drain,
// and the site's message bus (section 12); the Singleton, which answers calls. The Worker,
// which also serves connections, is in http_worker.js.

const { EventEmitter } = require('node:events');
const { performance } = require('node:perf_hooks');
const util = require('node:util');
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

let channelTaken = false;   // one SiteProcess per process reads the channel

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
    this._takeChannel();
    process.on('disconnect', () => this._disconnected());   // vhostd is gone: finish and exit
    this._lagTimer = setInterval(() => this._sampleLag(), LAG_SAMPLE_MS).unref();
    if (options.ready !== false) this.ready();
  }

  // Set-up between the channel check and the first message.
  _prepare() {}

  // Node emits every line of the channel as process 'message'. They are vhostd's (handoffs
  // with their metadata, drain, the bus's calls and reports), and the SDK's alone: the app's
  // own process.on('message') listeners get only the data of a bus message for this
  // process, as a cluster worker gets what the primary sends it. (What the app sends with
  // process.send() goes to the site's singleton: docs/protocol.md, section 3.)
  _takeChannel() {
    if (channelTaken) throw new Error('vhostd: serve() or singleton() already runs in this process');
    channelTaken = true;
    const emit = process.emit;
    const sdk = this;
    let passingData = false;   // our wrapper is giving the app's listeners a bus message's data
    process.emit = function vhostdChannel(event, message, handle) {
      if (event !== 'message') return Reflect.apply(emit, this, arguments);
      if (!sdk._take(message, handle)) return true;
      passingData = true;
      try {
        Reflect.apply(emit, this, ['message', channel.dataOf(message)]);
      } finally {
        passingData = false;
      }
      return true;
    };
    // Only reached when something has taken the wrapper out of process.emit's chain (as
    // signal-exit does when it restores what it saved before): the SDK still gets every
    // message, and the app's listeners see vhostd's too. It also keeps the channel
    // referenced, which Node does only while 'message' has a listener.
    process.prependListener('message', (message, handle) => {
      if (!passingData) sdk._take(message, handle);
    });
  }

  // One message of the channel; true when it is a bus message the app's listeners get too.
  _take(message, handle) {
    if (this._refusing) {
      if (handle && typeof handle.destroy === 'function') handle.destroy();
    } else if (handle) {
      this._handed(channel.connectionInfoOf(message), handle);
    } else if (channel.isCommand(message)) {
      this._receive(message);
      return message.cmd === 'vhostd:message';
    } else {
      this._protocolError('a line that is not a JSON object with a "cmd"');
    }
    return false;
  }

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
      // Anything else (a later vhostd:* command) is ignored.
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

module.exports = { isWorker, role, CallError, SiteProcess, Singleton };
