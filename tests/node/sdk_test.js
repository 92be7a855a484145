'use strict';
// End-to-end tests of sdk/node and examples/node-site behind the real vhostd, with real
// clients (curl, Node's http and https clients, raw sockets) on loopback ports. No npm
// dependencies: node:test and node:assert.
//
//   node tests/node/sdk_test.js [VHOSTD [VHOSTCTL]]     (CTest passes both; default build/bin)
//
// Every process it starts is stopped by pid; every wait is for a condition, with a limit.
//
// The tests are in one file per feature, run in this order against one vhostd (fixture.js):
// http_test.js, websocket_test.js, socket_info_test.js, lifecycle_test.js (which stops it).

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { vhostdBin, NODE_MAJOR } = require('./support');
require('./fixture');

console.log(`# node ${process.version} (${process.execPath}), vhostd ${vhostdBin}`);

test(`Node.js is version ${NODE_MAJOR}`, () => {
  console.log(`# process.version = ${process.version}`);
  assert.equal(Number(process.versions.node.split('.')[0]), NODE_MAJOR, `these tests pin Node ${NODE_MAJOR}; this is ${process.version}`);
});

require('./http_test');
require('./websocket_test');
require('./socket_info_test');
require('./lifecycle_test');
