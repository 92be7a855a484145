// A socket.io server as a vhostd site's worker: it answers each 'echo' with the message and
// its pid, so that the client sees which worker holds its session. socket.io keeps its
// sessions in this process's memory: a polling request that reaches another worker gets
// "Session ID unknown".
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');
const vhostd = require('../../sdk/node');

const server = http.createServer((req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not a socket.io request\n');
});
const io = new Server(server, { pingInterval: 2000, pingTimeout: 5000 });
// With SLOT_COOKIE set, the answer that makes a session names this worker's slot in that
// cookie (the site has affinity = { cookie = SLOT_COOKIE }), so that the session's next
// requests come back here: the sticky cookie HAProxy would insert, set by the worker.
if (process.env.SLOT_COOKIE) {
    io.engine.on('initial_headers', (headers) => {
        headers['set-cookie'] = `${process.env.SLOT_COOKIE}=${process.env.VHOSTD_WORKER_SLOT}; Path=/; HttpOnly`;
    });
}
io.on('connection', (socket) => {
    socket.on('echo', (message, ack) => ack({ message, pid: process.pid }));
});
vhostd.serve(server);
