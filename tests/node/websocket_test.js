'use strict';
// WebSocket behind vhostd: echoes of every kind, ping, the closing handshake.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { clientFrame, openWebSocket } = require('./raw_client');
const { ports } = require('./fixture');

test('WebSocket: text, binary, fragmented and large messages are echoed; ping, close', { timeout: 30000 }, async () => {
  const client = await openWebSocket(ports.http, 'node.test');
  try {
    client.write(clientFrame(0x1, 'hello'));
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0x1, masked: false, payload: Buffer.from('hello') });

    const binary = Buffer.from([0, 1, 2, 253, 254, 255]);
    client.write(clientFrame(0x2, binary));
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0x2, masked: false, payload: binary });

    client.write(Buffer.concat([clientFrame(0x1, 'frag', false), clientFrame(0x9, 'ping!'), clientFrame(0x0, 'mented')]));
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0xa, masked: false, payload: Buffer.from('ping!') });
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0x1, masked: false, payload: Buffer.from('fragmented') });

    client.write(Buffer.concat([clientFrame(0x9, ''), clientFrame(0x1, '')]));   // empty payloads
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0xa, masked: false, payload: Buffer.alloc(0) });
    assert.deepEqual(await client.frame(), { fin: true, opcode: 0x1, masked: false, payload: Buffer.alloc(0) });

    const large = Buffer.alloc(200000, 0x61);   // a 64-bit length
    client.write(clientFrame(0x2, large));
    const echoed = await client.frame();
    assert.equal(echoed.opcode, 0x2);
    assert.ok(echoed.payload.equals(large));

    client.write(clientFrame(0x8, Buffer.from([0x03, 0xe8])));   // close 1000
    const close = await client.frame();
    assert.equal(close.opcode, 0x8);
    assert.equal(close.payload.readUInt16BE(0), 1000);
    await client.closed();
  } finally {
    client.destroy();
  }
});
