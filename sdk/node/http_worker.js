'use strict';
// The Worker: a site process that serves the connections vhostd hands over with a
// net.Server (an http.Server or https.Server gets keep-alive, 421 for another host and the
// drain), and connectionInfo() for a request's or socket's handoff metadata.

const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const { sameHost } = require('./host');
const { SiteProcess } = require('./site_process');

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

module.exports = { Worker, connectionInfo };
