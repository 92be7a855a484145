'use strict';
// The Node.js process of tests/bus/bus_protocol_test.py: sdk/node's message bus, driven
// over the bus itself. It runs as a worker or as the site's singleton, as VHOSTD_ROLE says,
// and prints a JSON line on stdout for everything the SDK hands it:
//   {"event":"message","data":…,"from":…}   {"event":"task","name":…}
//   {"event":"undeliverable","id":…,"to":…,"reason":…}
// A message whose data has `do` makes it act, and report the outcome:
//   {"do":"send","to":…,"data":…,"size":N}   send(to, data, or N times "x") → "sent" {id | error}
//   {"do":"call","tag":…,"method":…,"args":…,"timeoutMs":…}
//                                           call(…) → "call" {tag, result | error, name}
// As the singleton it answers: echo → {args, from}; fail → throws; sleep {ms} → "slept",
// ms later. tests/bus/python_bus_worker.py is its Python twin.

const http = require('node:http');
const vhostd = require('../../sdk/node');

function report(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const bus = vhostd.role() === 'singleton'
  ? vhostd.singleton({
    methods: {
      echo: (args, from) => ({ args: args === undefined ? null : args, from }),
      fail: () => { throw new Error('failed on purpose'); },
      sleep: (args) => new Promise((resolve) => setTimeout(resolve, args.ms, 'slept')),
    },
  })
  : vhostd.serve(http.createServer((req, res) => res.end('bus worker\n')));

bus.on('message', (data, from) => {
  report({ event: 'message', data, from });
  if (data && data.do === 'send') {
    try {
      const payload = data.size ? 'x'.repeat(data.size) : data.data;
      report({ event: 'sent', id: bus.send(data.to, payload) });
    } catch (error) {
      report({ event: 'sent', error: error.message, name: error.name });
    }
  } else if (data && data.do === 'call') {
    bus.call(data.method, data.args, { timeoutMs: data.timeoutMs }).then(
      (result) => report({ event: 'call', tag: data.tag, result }),
      (error) => report({ event: 'call', tag: data.tag, error: error.message, name: error.name }));
  }
});
bus.on('task', (name) => report({ event: 'task', name }));
bus.on('undeliverable', (undelivered) => report({ event: 'undeliverable', ...undelivered }));
