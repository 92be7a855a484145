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
  return /[A-Z]/.test(text) ? text.replace(/[A-Z]+/g, (s) => s.toLowerCase()) : text;
}

// Labels of 1 to 63 letters, digits, '-' or '_', separated by single dots.
const LABEL = `[A-Za-z0-9_-]{1,${MAX_LABEL_LENGTH}}`;
const HOST_NAME = new RegExp(`^(?:${LABEL}\\.)*${LABEL}$`);

// RFC 3986: port = *DIGIT, so "host:" is legal and means the default port.
function isValidPort(port) {
  return /^[0-9]{0,5}$/.test(port) && (port === '' || Number(port) <= MAX_PORT);
}

// The eight 16-bit groups of an address net.isIPv6() accepted.
function ipv6Groups(address) {
  const halves = address.split('::');
  const groupsOf = (part) => (part === '' ? [] : part.split(':').flatMap((piece) => {
    if (!piece.includes('.')) return [parseInt(piece, 16)];
    const [a, b, c, d] = piece.split('.').map(Number);  // an IPv4 tail: two groups
    return [a << 8 | b, c << 8 | d];
  }));
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  return [...head, ...new Array(Math.max(zeros, 0)).fill(0), ...tail];
}

// The address's one spelling (RFC 5952 without its mixed IPv4 notation, as WHATWG URLs write
// it): lower-case hex without leading zeros, the longest run of two or more zero groups (the
// first of equal runs) as "::".
function canonicalIpv6(groups) {
  let runStart = -1;
  let runLength = 1;  // runs of one zero group stay written
  for (let i = 0; i < 8;) {
    let end = i;
    while (end < 8 && groups[end] === 0) end += 1;
    if (end - i > runLength) [runStart, runLength] = [i, end - i];
    i = end > i ? end : i + 1;
  }
  const written = groups.map((group) => group.toString(16));
  if (runStart < 0) return `[${written.join(':')}]`;
  return `[${written.slice(0, runStart).join(':')}::${written.slice(runStart + runLength).join(':')}]`;
}

// "[2001:DB8:0::1]:443" -> "[2001:db8::1]".
function normalizeIpv6Literal(raw) {
  const close = raw.indexOf(']');
  if (close < 0) return null;
  const after = raw.slice(close + 1);
  if (after !== '' && (after[0] !== ':' || !isValidPort(after.slice(1)))) return null;
  const address = raw.slice(1, close);
  // '.' only for an IPv4 tail; no zone ids.
  if (address.length > MAX_IPV6_TEXT || !/^[0-9A-Fa-f:.]*$/.test(address)) return null;
  if ((address.match(/:/g) || []).length < 2 || !net.isIPv6(address)) return null;
  const groups = ipv6Groups(address);
  return groups.length === 8 ? canonicalIpv6(groups) : null;
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
  if (!HOST_NAME.test(name)) return null;
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
// be for the same host, or for none when that is none. A connection routed by the name in
// its SNI (`bySni`) also serves a request that names no host: the SNI named it.
class ConnectionHost {
  constructor(routed, bySni = false) {
    this.host = routed;
    this.bySni = bySni;
  }

  // The rule above for a handed connection's metadata (docs/http-grammar.md).
  static ofHandoff(info) {
    const passthrough = Boolean(info.tls) && info.tls.mode === 'passthrough';
    if (!passthrough) return new ConnectionHost(info.host || '');
    return info.host ? new ConnectionHost(info.host, true) : new ConnectionHost(null);
  }

  // True when a request for `requestHost` (normalised, or '') may be served here.
  admits(requestHost) {
    if (this.host === null) {
      this.host = requestHost;
      return true;
    }
    if (!requestHost) return !this.host || this.bySni;
    return Boolean(this.host) && sameHost(requestHost, this.host);
  }
}

module.exports = { normalizeHost, sameHost, ConnectionHost };
