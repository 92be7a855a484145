'use strict';
// One site among several: a Node app that logs each request to stdout, which vhostd writes
// into the site's own log file.
const http = require('node:http');
const vhostd = require('../../../sdk/node');

const server = http.createServer((req, res) => {
  console.log(`blog: ${req.method} ${req.url}`);
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('the blog\n');
});
vhostd.serve(server);
