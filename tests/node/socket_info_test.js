'use strict';
// What the handed socket reports: the client vhostd names over TCP and TLS terminated by
// vhostd, and TLS passed through to an https.Server in the worker.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const tls = require('node:tls');
const { test } = require('node:test');
const { RawClient } = require('./raw_client');
const fixture = require('./fixture');
const { ports } = fixture;

test('the socket reports the client vhostd names (TCP)', { timeout: 30000 }, async () => {
  await RawClient.using(ports.http, async (client) => {
    client.write('GET /whoami HTTP/1.1\r\nHost: app.test\r\n\r\n');
    const who = JSON.parse((await client.response()).body);
    assert.equal(who.handle, 'TCP');
    assert.equal(who.remoteAddress, '127.0.0.1');
    assert.equal(who.remotePort, client.socket.localPort);
    assert.equal(who.remoteFamily, 'IPv4');
    assert.equal(who.localPort, ports.http);
    assert.equal(who.encrypted, false);
    assert.equal(who.info.host, 'app.test');
    assert.equal(who.info.site, 'app');
  });
});

function httpsWhoami(servername) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: ports.https, path: '/whoami', servername, ca: fs.readFileSync(fixture.tls.cert), agent: false,
      headers: { Host: servername },
    }, (res) => {
      const localPort = res.socket.localPort;
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ ...JSON.parse(body), clientPort: localPort }));
    });
    req.setTimeout(10000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end();
  });
}

test('the socket reports the client vhostd names (TLS terminated: a socketpair)', { timeout: 30000 }, async (t) => {
  if (!fixture.tls) return t.skip('openssl could not make a certificate');
  const who = await httpsWhoami('app.test');
  assert.equal(who.handle, 'Pipe');   // an AF_UNIX socketpair: no peer address of its own
  assert.equal(who.remoteAddress, '127.0.0.1');
  assert.equal(who.remotePort, who.clientPort);
  assert.equal(who.localPort, ports.https);
  assert.equal(who.encrypted, true);
  assert.equal(who.info.tls.mode, 'terminate');
  assert.equal(who.info.tls.serverName, 'app.test');
});

test('passthrough: an https.Server in the worker terminates TLS on the handed socket', { timeout: 30000 }, async (t) => {
  if (!fixture.tls) return t.skip('openssl could not make a certificate');
  const who = await httpsWhoami('secure.test');
  assert.equal(who.handle, 'TLSWrap');
  assert.equal(who.remoteAddress, '127.0.0.1');
  assert.equal(who.remotePort, who.clientPort);
  assert.equal(who.encrypted, true);
  assert.equal(who.info.site, 'secure');
  assert.equal(who.info.tls.mode, 'passthrough');
});

// One GET /whoami over TLS to the secure site: { reused, who }, and the session to resume.
function whoamiOverTls(session) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: ports.https, servername: 'secure.test', ca: fs.readFileSync(fixture.tls.cert), session }, () => {
      socket.write('GET /whoami HTTP/1.1\r\nHost: secure.test\r\nConnection: close\r\n\r\n');
    });
    let text = '';
    let ticket = null;
    socket.on('session', (s) => { ticket = s; });
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { text += chunk; });
    socket.on('end', () => resolve({ reused: socket.isSessionReused(), who: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)), session: ticket }));
    socket.on('error', reject);
    socket.setTimeout(10000, () => socket.destroy(new Error('no answer')));
  });
}

// The site's workers share its ticket key (VHOSTD_TLS_TICKET_KEY): a client resumes its
// session whichever worker its next connection reaches.
test('passthrough: a TLS session resumes on every worker of the site', { timeout: 30000 }, async (t) => {
  if (!fixture.tls) return t.skip('openssl could not make a certificate');
  const first = await whoamiOverTls(undefined);
  assert.ok(first.session, 'a session ticket arrived');
  const pids = new Set();
  for (let i = 0; i < 20 && pids.size < 2; i++) {
    const { reused, who } = await whoamiOverTls(first.session);
    assert.equal(reused, true, `connection ${i} (worker pid ${who.pid}) resumed`);
    pids.add(who.pid);
  }
  assert.equal(pids.size, 2, 'both workers resumed the session');
});

// vhostd routed the passthrough connection by SNI and read none of its requests: the Node
// SDK holds each one, the first included, to the SNI name.
test('passthrough: a request for another host than the SNI name gets 421', { timeout: 30000 }, async (t) => {
  if (!fixture.tls) return t.skip('openssl could not make a certificate');
  const status = (servername, host) => new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: ports.https, path: '/whoami', servername, ca: fs.readFileSync(fixture.tls.cert), agent: false,
      headers: { Host: host },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.setTimeout(10000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end();
  });
  assert.equal(await status('secure.test', 'app.test'), 421);
  assert.equal(await status('secure.test', `SECURE.test:${ports.https}`), 200);
});

// A refusal on a passthrough connection is an answer inside its TLS, not plain text.
test('passthrough: a refused request gets its answer through TLS', { timeout: 30000 }, async (t) => {
  if (!fixture.tls) return t.skip('openssl could not make a certificate');
  const answer = await new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: ports.https, servername: 'secure.test', ca: fs.readFileSync(fixture.tls.cert) }, () => {
      socket.write('GET / HTTP/1.1\r\nHost: secure.test\r\nContent-Length: +3\r\n\r\nabc');
    });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { text += chunk; });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(10000, () => socket.destroy(new Error('no answer')));
  });
  assert.match(answer, /^HTTP\/1\.1 400 /);
});
