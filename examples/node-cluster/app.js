'use strict';
// The Node.js cluster documentation's "keep track of HTTP requests" example, run by vhostd:
//
//   [sites.app]                                  [sites.app.singleton]
//   command = ["node", "app.js"]                 command = ["node", "app.js"]
//   workers = 2
//
// The primary's part runs as the site's singleton and the workers' part as its workers,
// unchanged but for the cluster block: vhostd.role() instead of cluster.isPrimary, and
// vhostd.serve(server) instead of forking and listen(8000). What a worker sends with
// process.send() reaches the singleton's 'message' event, as it reaches the primary's
// worker.on('message') under cluster. docs/migrating.md has the whole mapping.

const http = require('node:http');
const vhostd = require('../../sdk/node');

if (vhostd.role() === 'singleton') {
  // Keep track of http requests
  let numReqs = 0;
  setInterval(() => {
    console.log(`numReqs = ${numReqs}`);
  }, 1000).unref();

  // Count requests
  function messageHandler(msg) {
    if (msg.cmd && msg.cmd === 'notifyRequest') {
      numReqs += 1;
    }
  }

  vhostd.singleton().on('message', messageHandler);
} else {
  // Worker processes have a http server.
  const server = http.Server((req, res) => {
    res.writeHead(200);
    res.end('hello world\n');

    // Notify primary about the request
    process.send({ cmd: 'notifyRequest' });
  });
  vhostd.serve(server);
}
