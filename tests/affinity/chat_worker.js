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
io.on('connection', (socket) => {
    socket.on('echo', (message, ack) => ack({ message, pid: process.pid }));
});
vhostd.serve(server);
