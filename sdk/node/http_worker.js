'use strict';
// The Worker: a site process that serves the connections vhostd hands over with a
// net.Server (an http.Server or https.Server reads every request by the front's grammar and
// gets keep-alive, 421 for another host and the drain), and connectionInfo() for a
// request's or socket's handoff metadata.

const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const tls = require('node:tls');
const { ConnectionHost } = require('./host');
const { limitsFromEnvironment } = require('./request_head');
const { RequestStream } = require('./request_stream');
const { SiteProcess } = require('./site_process');

const REFUSAL_DRAIN_MS = 2000;   // after a refusal, how long the client's further bytes are read

// One connection vhostd handed over, with the requests it has carried.
class Connection {
  constructor(socket, info) {
    this.socket = socket;
    this.wire = socket;           // where its requests and answers go: for passthrough the TLSSocket
    this.info = info;
    this.responses = new Set();   // dispatched, not yet closed (pipelining queues several)
    this.upgraded = false;
    this.refusal = null;          // a request the grammar refused, answered once those before it are
    this.lastResponse = null;     // the response of the request read last
    this.answered = 0;            // responses finished
    this.stream = null;           // the RequestStream its bytes go through
    this.host = ConnectionHost.ofHandoff(info);
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

// A passthrough site's session ticket key, the same in every worker of the site
// (docs/protocol.md, VHOSTD_TLS_TICKET_KEY): a client resumes whichever worker it reaches.
// Node takes 48 bytes: the key name, then the first 16 bytes of the HMAC secret and of the
// AES key.
function useSharedTicketKey(server, env = process.env) {
  const hex = env.VHOSTD_TLS_TICKET_KEY;
  if (!hex) return;
  if (!/^[0-9a-fA-F]{160}$/.test(hex)) throw new Error('vhostd: VHOSTD_TLS_TICKET_KEY is not hex of 80 bytes');
  const key = Buffer.from(hex, 'hex');
  server.setTicketKeys(Buffer.concat([key.subarray(0, 16), key.subarray(16, 32), key.subarray(48, 64)]));
}

function rawResponse(status, body) {
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

// What llhttp itself still refuses among what the grammar passed (a method it does not
// know), or an app's server limits: the answer Node would not give without a status line.
function clientErrorStatus(error) {
  switch (error && error.code) {
    case 'HPE_INVALID_METHOD': return 501;
    case 'HPE_HEADER_OVERFLOW': return 431;
    default: return 400;
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
      this._closeIdle();
    }
    this._finishIfDrained();
  }

  // Draining: closes the handed connections that are between two requests. Not
  // server.closeIdleConnections(): llhttp has not seen a head the grammar still holds in
  // part, so it would close a connection whose next request is arriving. A connection handed
  // a moment ago (its first request unread) or mid-head gets its answer, with Connection:
  // close; one that stalls there gets the head timer's 408.
  _closeIdle() {
    for (const connection of this._live) {
      const { socket, stream } = connection;
      const waiting = connection.answered === 0 || connection.responses.size > 0 || (stream && stream.pending.length > 0);
      if (!waiting && !connection.upgraded && !connection.refusal) socket.destroy();
    }
  }

  _prepare() {
    const server = this.server;
    this._limits = limitsFromEnvironment();
    if (server instanceof tls.Server) useSharedTicketKey(server);
    if (this.http) {
      // llhttp's head limit at least the grammar's, so that the grammar decides.
      if (!(server.maxHeaderSize >= this._limits.maxHeadSize)) server.maxHeaderSize = this._limits.maxHeadSize;
      this._trackTimeouts(server);
      this._filterEvents(server);
      // A passthrough site's https.Server wraps the handed socket in a TLSSocket: it must
      // report the client too.
      if (server instanceof https.Server) {
        server.prependListener('secureConnection', (tlsSocket) => {
          const connection = connectionOf(tlsSocket);
          if (!connection) return;
          describeClient(tlsSocket, connection.info);
          // After http.Server's own listener, which this one runs before, has set up its parser.
          process.nextTick(() => this._readByTheGrammar(tlsSocket, connection));
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
          worker._admitUpgrade(event, a, b);
          break;
        case 'clientError':
          // The app's own handler decides, else this answer instead of Node's bare one.
          if (server.listenerCount('clientError') === 0 && worker._clientError(a, b)) return true;
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
    connection.responses.add(res);
    connection.lastResponse = res;
    res.once('close', () => {
      connection.responses.delete(res);
      connection.answered++;
      if (connection.refusal && this._answeredBefore(connection)) this._sendRefusal(connection);
      // Draining, and its headers went out before: the connection may be idle now.
      if (this.draining) setImmediate(() => this._closeIdle());
    });
    if (this.draining) this._lastResponse(res);
    this._requests++;
    return true;
  }

  _admitUpgrade(event, req, socket) {
    const connection = connectionOf(socket);
    if (connection && event === 'upgrade') {
      // A WebSocket (or other upgraded) session counts until its socket closes; its upgrade
      // request is a request like any other (docs/protocol.md, vhostd:heartbeat).
      connection.upgraded = true;
      this._websockets++;
      this._requests++;
    }
  }

  // Every byte of a handed connection reaches llhttp through a RequestStream, which reads
  // each head by the front's grammar: llhttp gets each accepted head in one plain
  // spelling, and a refused request gets its answer, once those before it have theirs.
  _readByTheGrammar(socket, connection) {
    const stream = new RequestStream(this._limits, (host) => connection.host.admits(host),
      () => this.server.listenerCount('upgrade') > 0);
    connection.stream = stream;
    connection.wire = socket;
    const emit = socket.emit;
    const worker = this;
    const refuse = (refusal) => {
      if (connection.refusal) return;   // llhttp refused first: that answer stands
      // A broken body refuses the request it belongs to, which waits for the body's end.
      connection.refusal = { ...refusal, replaces: refusal.inBody ? connection.lastResponse : null };
      if (worker._answeredBefore(connection)) worker._sendRefusal(connection);
    };
    // llhttp never sees a partial head, so its headersTimeout is kept here.
    let headTimer = null;
    const timeHead = () => {
      if (stream.inHead && !headTimer && this.server.headersTimeout > 0) {
        headTimer = setTimeout(() => {
          if (stream.inHead && stream.refuse()) refuse({ status: 408, reason: 'head not complete within headersTimeout' });
        }, this.server.headersTimeout).unref();
      } else if (!stream.inHead && headTimer) {
        clearTimeout(headTimer);
        headTimer = null;
      }
    };
    socket.once('close', () => clearTimeout(headTimer));
    socket.emit = function vhostdGrammar(event, data) {
      if (event !== 'data' || stream.state === 'through') return Reflect.apply(emit, this, arguments);
      const { pass, refusal, heads } = stream.feed(data);
      // llhttp parses synchronously: the requests before a refused one are dispatched (and
      // in connection.responses) when this returns.
      if (pass.length > 0) Reflect.apply(emit, this, ['data', pass]);
      if (refusal) refuse(refusal);
      if (heads.length > 0 && headTimer) {
        clearTimeout(headTimer);   // a head ended: the one in progress, if any, starts now
        headTimer = null;
      }
      timeHead();
      return true;
    };
    // http.Server reads a socket in C++ (parser.consume), past any JS, until the socket gets
    // a 'data' listener (lib/_http_server.js: unconsume): then its bytes go through emit.
    socket.on('data', () => {});
  }

  // True when every request before the refused one has had its answer.
  _answeredBefore(connection) {
    const { responses, refusal } = connection;
    return responses.size === 0 || (responses.size === 1 && responses.has(refusal.replaces));
  }

  // The refusal's answer and log line; then the connection closes, after reading what the
  // client still sends for a while (closing with unread bytes would reset the connection).
  _sendRefusal(connection) {
    const { wire: socket, refusal } = connection;
    if (refusal.sent) return;
    refusal.sent = true;
    process.stderr.write(`refused a request: ${refusal.status} ${refusal.reason}\n`);
    if (socket.destroyed) return;
    const body = refusal.status === 421
      ? `421 this connection is for ${connection.host.host || 'no host'}\n`
      : `${refusal.status} ${http.STATUS_CODES[refusal.status]}\n`;
    socket.end(rawResponse(refusal.status, body));
    setTimeout(() => socket.destroy(), REFUSAL_DRAIN_MS).unref();
  }

  // llhttp refused a request the grammar let through: answered, logged, closed.
  _clientError(error, socket) {
    const connection = connectionOf(socket);
    if (!connection) return false;
    if (!connection.refusal) connection.refusal = { status: clientErrorStatus(error), reason: `refused by llhttp: ${error.code}` };
    if (this._answeredBefore(connection)) this._sendRefusal(connection);
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
    if (server instanceof https.Server && !(info.tls && info.tls.mode === 'passthrough')) {
      // Plain HTTP (a plain listener, or TLS the front terminated) for a server that speaks
      // HTTPS: its HTTP side takes the socket as it takes a TLSSocket whose handshake is done.
      server.emit('secureConnection', socket);
    } else {
      server.emit('connection', socket);
    }
    if (this.http && !(server instanceof https.Server)) this._readByTheGrammar(socket, connection);
  }

}

module.exports = { Worker, connectionInfo };
