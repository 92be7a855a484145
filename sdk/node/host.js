'use strict';
// Host names as vhostd routes by them: the grammar of http/host.cpp, written again for
// Node. Pure; tests/vectors/hosts.json holds the cases every implementation passes.

const net = require('node:net');

const MAX_HOST_LENGTH = 253;   // RFC 1035, without the trailing dot
const MAX_LABEL_LENGTH = 63;
const MAX_PORT = 65535;
const MAX_IPV6_TEXT = 45;      // INET6_ADDRSTRLEN without its NUL

// ASCII only, as the front: toLowerCase() would also fold non-ASCII letters.
function asciiLower(text) {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

// RFC 3986: port = *DIGIT, so "host:" is legal and means the default port.
function isValidPort(port) {
  return /^[0-9]{0,5}$/.test(port) && (port === '' || Number(port) <= MAX_PORT);
}

// "[2001:DB8::1]:443" -> "[2001:db8::1]": lower-cased, not re-canonicalised.
function normalizeIpv6Literal(raw) {
  const close = raw.indexOf(']');
  if (close < 0) return null;
  const after = raw.slice(close + 1);
  if (after !== '' && (after[0] !== ':' || !isValidPort(after.slice(1)))) return null;
  const address = raw.slice(1, close);
  // '.' only for an IPv4 tail; no zone ids.
  if (address.length > MAX_IPV6_TEXT || !/^[0-9A-Fa-f:.]*$/.test(address)) return null;
  if ((address.match(/:/g) || []).length < 2 || !net.isIPv6(address)) return null;
  return `[${asciiLower(address)}]`;
}

// The host a Host header value (or SNI) names, as vhostd keys it: ASCII lower case, without
// a port and one trailing dot; null when it is not a valid host.
function normalizeHost(raw) {
  if (typeof raw !== 'string' || raw === '') return null;
  if (raw[0] === '[') return normalizeIpv6Literal(raw);
  let name = raw;
  const colon = raw.indexOf(':');
  if (colon >= 0) {
    // A second colon means an IPv6 address without brackets: ambiguous with a port.
    if (raw.indexOf(':', colon + 1) >= 0 || !isValidPort(raw.slice(colon + 1))) return null;
    name = raw.slice(0, colon);
  }
  if (name.endsWith('.')) name = name.slice(0, -1);   // the same host written fully qualified
  if (name === '' || name.length > MAX_HOST_LENGTH) return null;
  // '_' is not valid in DNS names but appears in real service names; the front accepts it.
  const labels = name.split('.');
  if (!labels.every((label) => label.length <= MAX_LABEL_LENGTH && /^[A-Za-z0-9_-]+$/.test(label))) return null;
  return asciiLower(name);
}

// True when both Host values are valid and name the same host (case, a port and one
// trailing dot do not matter). An invalid or empty host matches nothing.
function sameHost(a, b) {
  const normalized = normalizeHost(a);
  return normalized !== null && normalized === normalizeHost(b);
}

// The host a connection is for: the one it was routed by ('' for HTTP/1.0 without Host,
// sent to the default site), or, given null, its first request's. Every later request must
// be for the same host, or for none when that is none.
class ConnectionHost {
  constructor(routed) {
    this.host = routed;
  }

  // True when a request for `requestHost` (normalised, or '') may be served here.
  admits(requestHost) {
    if (this.host === null) {
      this.host = requestHost;
      return true;
    }
    if (!this.host || !requestHost) return this.host === requestHost;
    return sameHost(requestHost, this.host);
  }
}

module.exports = { normalizeHost, sameHost, ConnectionHost };
