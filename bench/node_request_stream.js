'use strict';
// The Node SDK's grammar filter alone (sdk/node/request_stream.js), without sockets: the
// time RequestStream.feed() takes per request for a small GET, and parseRequestHead() of it.
//   node bench/node_request_stream.js [COUNT]
const { RequestStream } = require('../sdk/node/request_stream');
const { parseRequestHead, DEFAULT_LIMITS } = require('../sdk/node/request_head');

const count = Number(process.argv[2] || 200000);
const request = Buffer.from('GET / HTTP/1.1\r\nHost: hello.test\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n');
const perRequest = (run) => {
  for (let i = 0; i < count / 10; i++) run();   // warm up the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) run();
  return Number(process.hrtime.bigint() - start) / count;
};
const stream = new RequestStream(DEFAULT_LIMITS, () => true, () => false);
const text = request.toString('latin1');
console.log(`RequestStream.feed: ${perRequest(() => stream.feed(request)).toFixed(0)} ns per request`);
console.log(`parseRequestHead:   ${perRequest(() => parseRequestHead(text, DEFAULT_LIMITS)).toFixed(0)} ns per request`);
