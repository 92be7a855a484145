// socket.io clients of one site behind vhostd: each connects, sends its messages one after
// another and waits for every echo. Prints one JSON line: how many clients got every echo,
// what went wrong for the others, and which worker pids answered each one.
//
//   node chat_clients.js --port PORT --clients 20 --messages 10 --transports polling|default
//                        [--cookie NAME] [--addresses] [--credentials]
//
// --cookie sends each client its own session cookie, as a browser sends the one its page set;
// --addresses gives each client its own loopback source address (127.0.0.2, …);
// --credentials keeps the cookies the server sets and sends them back, as a browser does.
'use strict';

const http = require('node:http');
const { parseArgs } = require('node:util');
const { io } = require('socket.io-client');

const { values: args } = parseArgs({
    options: {
        port: { type: 'string' },
        clients: { type: 'string', default: '20' },
        messages: { type: 'string', default: '10' },
        transports: { type: 'string', default: 'default' },
        cookie: { type: 'string' },
        addresses: { type: 'boolean', default: false },
        credentials: { type: 'boolean', default: false },
        'timeout-ms': { type: 'string', default: '20000' },
    },
});
const clients = Number(args.clients);
const messages = Number(args.messages);
const timeoutMs = Number(args['timeout-ms']);

function runClient(index) {
    const options = { forceNew: true, reconnection: false, timeout: 5000 };
    if (args.transports === 'polling') options.transports = ['polling'];
    if (args.cookie) options.extraHeaders = { cookie: `${args.cookie}=client-${index}` };
    if (args.credentials) options.withCredentials = true;
    if (args.addresses) {
        const localAddress = `127.0.0.${2 + index}`;
        options.localAddress = localAddress;                   // the WebSocket
        options.agent = new http.Agent({ localAddress });      // every polling request
    }
    const socket = io(`http://127.0.0.1:${args.port}`, options);
    const pids = new Set();
    return new Promise((resolve) => {
        let done = false;
        const finish = (error) => {
            if (done) return;
            done = true;
            socket.close();
            resolve({ client: index, error, pids: [...pids] });
        };
        socket.on('connect_error', (e) => finish(`connect_error: ${e.message}${e.description ? ` (${JSON.stringify(e.description.message ?? e.description)})` : ''}`));
        socket.on('disconnect', (reason, details) => finish(`disconnected: ${reason}${details?.description ? ` (${details.description.message ?? details.description})` : ''}`));
        socket.on('connect', async () => {
            try {
                for (let n = 0; n < messages && !done; n++) {
                    const reply = await socket.timeout(5000).emitWithAck('echo', `${index}:${n}`);
                    if (reply.message !== `${index}:${n}`) throw new Error(`echo ${n} came back as ${JSON.stringify(reply.message)}`);
                    pids.add(reply.pid);
                }
                finish(null);
            } catch (e) {
                finish(`echo: ${e.message}`);
            }
        });
    });
}

const deadline = setTimeout(() => {
    console.log(JSON.stringify({ error: `not done within ${timeoutMs} ms` }));
    process.exit(1);
}, timeoutMs);

Promise.all(Array.from({ length: clients }, (_, i) => runClient(i))).then((results) => {
    clearTimeout(deadline);
    const failed = results.filter((r) => r.error);
    console.log(JSON.stringify({
        clients,
        ok: clients - failed.length,
        failed: failed.map((r) => ({ client: r.client, error: r.error })),
        pids: results.map((r) => r.pids),
    }));
});
