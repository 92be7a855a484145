'use strict';
// egg-cluster's app worker: serves HTTP, hears the agent, runs a `type: 'worker'` schedule.
//   GET /         the config version the agent last announced, and the schedule's runs
//   GET /config   the agent's answer to a call (sendToAgent with a reply)
const http = require('node:http');
const vhostd = require('../../sdk/node');

let announced = 0;
let cleanups = 0;

const server = http.createServer(async (req, res) => {
  let body;
  if (req.url === '/config') {
    body = await worker.call('config.get', [], { timeoutMs: 2000 });
  } else {
    body = { pid: process.pid, announced, cleanups };
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
});

const worker = vhostd.serve(server);
worker.send('singleton', { action: 'worker-started' });   // app.messenger.sendToAgent()
worker.on('message', (message) => {                          // app.messenger.on(action)
  if (message.action === 'config-changed') announced = message.data.version;
});
worker.on('task', (name) => {                                // app/schedule, type: 'worker'
  if (name === 'cache-cleanup') cleanups += 1;
});
