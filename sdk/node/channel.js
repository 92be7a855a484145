'use strict';
// What the Node SDK reads from vhostd's messages (docs/protocol.md), and the heartbeat
// interval of its environment. Pure: Node's own IPC reads the lines (JSON mode) and the fds.
// tests/vectors/channel.json holds the cases all three SDKs pass.

const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000;
const MIN_HEARTBEAT_INTERVAL_MS = 10;
const MAX_HEARTBEAT_INTERVAL_MS = 2 ** 31 - 1;   // the most a Node timer holds

// VHOSTD_HEARTBEAT_INTERVAL_MS as protocol.md section 2 reads it: ASCII digits only;
// missing, anything else, 0 or above 2^31-1 gives 1000; 1 to 9 give 10.
function heartbeatIntervalMs(text) {
  if (typeof text !== 'string' || !/^[0-9]+$/.test(text)) return DEFAULT_HEARTBEAT_INTERVAL_MS;
  const value = Number(text);
  if (value === 0 || value > MAX_HEARTBEAT_INTERVAL_MS) return DEFAULT_HEARTBEAT_INTERVAL_MS;
  return Math.max(value, MIN_HEARTBEAT_INTERVAL_MS);
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// A line the protocol accepts is a JSON object with a string "cmd" (section 3).
function isCommand(value) {
  return isObject(value) && typeof value.cmd === 'string';
}

function text(value) {
  return typeof value === 'string' ? value : '';
}

// A metadata number: a JSON integer from 0 to `limit`, else 0.
function unsigned(value, limit) {
  return Number.isInteger(value) && value >= 0 && value <= limit ? value : 0;
}

// The `tls` member, every field present: mode is 'passthrough' or 'terminate'.
function tlsOf(value) {
  if (!isObject(value)) return null;
  return {
    mode: value.mode === 'passthrough' ? 'passthrough' : 'terminate',
    serverName: text(value.serverName),
    alpn: text(value.alpn),
    version: text(value.version),
    cipher: text(value.cipher),
  };
}

// The metadata of NODE_HANDLE (its `msg`), each member of its type: what connectionInfo()
// returns. `raw` keeps the whole object, for members added later.
function connectionInfoOf(msg) {
  const fields = isObject(msg) ? msg : {};
  const info = {
    id: unsigned(fields.id, Number.MAX_SAFE_INTEGER),
    site: text(fields.site),
    remoteAddress: text(fields.remoteAddress),
    remotePort: unsigned(fields.remotePort, 65535),
    localAddress: text(fields.localAddress),
    localPort: unsigned(fields.localPort, 65535),
    host: text(fields.host),
    websocket: fields.websocket === true,
    headLength: unsigned(fields.headLength, Number.MAX_SAFE_INTEGER),
    tls: tlsOf(fields.tls),
  };
  Object.defineProperty(info, 'raw', { value: fields, enumerable: false });
  return info;
}

// The `data` of a vhostd:message: any JSON value, null when it has none.
function dataOf(message) {
  return message.data === undefined ? null : message.data;
}

// The `from` of a vhostd:message or vhostd:call ({ role, slot, pid }), or {}.
function senderOf(message) {
  return isObject(message.from) ? message.from : {};
}

// The id of a vhostd:call or vhostd:reply; null when it has none to answer or settle.
function callIdOf(message) {
  return Number.isSafeInteger(message.id) ? message.id : null;
}

// { error, result } of a vhostd:reply: error a string, or null (missing or null) on success.
function replyOutcome(reply) {
  const error = reply.error === undefined || reply.error === null ? null : String(reply.error);
  return { error, result: reply.result === undefined ? null : reply.result };
}

// The task a vhostd:task runs; null (the message is ignored) without a string name.
function taskNameOf(message) {
  return typeof message.name === 'string' ? message.name : null;
}

// A vhostd:undeliverable as the report the 'undeliverable' event gets: { id, to, reason }.
function undeliverableOf(message) {
  const member = (name) => (message[name] === undefined ? null : message[name]);
  return { id: member('id'), to: member('to'), reason: member('reason') };
}

module.exports = {
  heartbeatIntervalMs, isCommand, connectionInfoOf, dataOf, senderOf, callIdOf, replyOutcome, taskNameOf, undeliverableOf,
};
