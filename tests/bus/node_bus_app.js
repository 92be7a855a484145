'use strict';
// A site's worker or singleton (as VHOSTD_ROLE says) on sdk/node, for behind_vhostd.py: the
// Node twin of tests/integration/workers/bus_worker.cpp, driven over HTTP through the real
// vhostd. As a worker:
//   GET /send/TO/TEXT          sends {"text": TEXT} to TO (singleton, worker, workers)
//   GET /call/METHOD?ARG&ms=N  calls METHOD on the singleton with "ARG"; 200 and the result
//                              as JSON, or 502 and the error
//   GET /undeliverable         the reasons vhostd sent back, as a JSON array
//   GET /process-send/N        process.send() of app value N (0: "hello", 1: {"type":"hello"},
//                              2: {"cmd":"notifyRequest"}), as Node's cluster examples do
//   GET /process-send-handle   process.send() of a message with a handle (a net.Server): vhostd
//                              acknowledges and drops it, so later sends still go out
//   GET /process-messages      what reached the app's own process.on('message'), as JSON
//   GET /restore-emit          puts back the process.emit from before serve(), as signal-exit
//                              does with the one it saved: the SDK must still get its messages
// and it reports every message and task it receives to the singleton. As the singleton it
// answers "echo" (its args), "received" (what it got), "fanout" ("worker:N" or "workers:N":
// sends N messages) and "tally" (receipts: "one", "all PID", and tasks per worker pid).
// tests/bus/python_bus_app.py is the Python twin.

const http = require('node:http');
const net = require('node:net');
const vhostd = require('../../sdk/node');

function bump(counts, key) {
  counts[key] = (counts[key] || 0) + 1;
}

function runSingleton() {
  const received = [];
  const senders = [];  // the `from` of each message, in the same order
  const got = {};     // receipts of fanned-out messages: "one", or "all PID" per worker
  const tasks = {};   // pid -> task receipts
  const singleton = vhostd.singleton({
    methods: {
      echo: (args) => args,
      received: () => received,
      senders: () => senders,
      tally: () => ({ got, tasks }),
      fanout: (spec) => {
        const [to, count] = spec.split(':');
        const n = Number(count);
        for (let i = 0; i < n; i++) singleton.send(to, { text: `${to} ${i}` });
        return n;
      },
    },
  });
  singleton.on('message', (data, from) => {
    received.push(data);
    senders.push(from);
    if (data === null || typeof data !== 'object') return;
    if (data.got && typeof data.got === 'object') {
      const toAll = typeof data.got.text === 'string' && data.got.text.startsWith('workers ');
      bump(got, toAll ? `all ${from.pid}` : 'one');
    }
    if ('task' in data) bump(tasks, String(from.pid));
  });
}

const APP_VALUES = ['hello', { type: 'hello' }, { cmd: 'notifyRequest' }];

const emitBeforeServe = process.emit;

function runWorker() {
  const undeliverable = [];
  const processMessages = [];   // vhostd's own messages must never show here
  process.on('message', (message, handle) => processMessages.push({ message, handle: Boolean(handle) }));
  let worker;
  const answer = async (url) => {
    const [path, query = ''] = url.split('?');
    const send = /^\/send\/([^/]+)\/(.*)$/.exec(path);
    if (send) {
      worker.send(send[1], { text: decodeURIComponent(send[2]) });
      return [200, 'sent\n'];
    }
    if (path.startsWith('/call/')) {
      const [arg] = query.split('&');
      const ms = /(?:^|&)ms=(\d+)/.exec(query);
      try {
        const result = await worker.call(path.slice(6), decodeURIComponent(arg),
          { timeoutMs: ms ? Number(ms[1]) : 2000 });
        return [200, `${JSON.stringify(result)}\n`];
      } catch (error) {
        return [502, `${error.message}\n`];
      }
    }
    if (path === '/undeliverable') return [200, `${JSON.stringify(undeliverable)}\n`];
    const own = /^\/process-send\/(\d)$/.exec(path);
    if (own) {
      process.send(APP_VALUES[Number(own[1])]);
      return [200, 'sent\n'];
    }
    if (path === '/process-messages') return [200, `${JSON.stringify(processMessages)}\n`];
    if (path === '/restore-emit') {
      process.emit = emitBeforeServe;
      return [200, 'restored\n'];
    }
    if (path === '/process-send-handle') {
      const server = net.createServer();
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      await new Promise((resolve, reject) => process.send({ with: 'a handle' }, server, (error) => (error ? reject(error) : resolve())));
      server.close();
      return [200, 'sent\n'];
    }
    return [404, 'no such path\n'];
  };
  const server = http.createServer((req, res) => {
    answer(req.url).catch((error) => [500, `${error.message}\n`]).then(([status, body]) => {
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(body);
    });
  });
  worker = vhostd.serve(server);
  // Every receipt goes to the singleton, which counts them for the test.
  worker.on('message', (data) => worker.send('singleton', { got: data }));
  worker.on('task', (name) => worker.send('singleton', { task: name }));
  worker.on('undeliverable', (report) => undeliverable.push(report.reason));
}

if (vhostd.role() === 'singleton') runSingleton();
else runWorker();
