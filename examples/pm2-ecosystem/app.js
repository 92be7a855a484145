'use strict';
// The app of ecosystem.config.js. Under PM2 it listens on PORT; under vhostd it serves the
// connections vhostd hands it: that one `if` is the whole change.
const http = require('node:http');
const vhostd = require('../../sdk/node');

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`${process.env.GREETING} from ${process.pid}\n`);
});

if (vhostd.isWorker()) vhostd.serve(server);
else server.listen(Number(process.env.PORT) || 3000);
