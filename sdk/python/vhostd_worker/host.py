"""Host names as vhostd routes by them: the grammar of http/host.cpp, written again for
Python. Pure; tests/vectors/hosts.json holds the cases all the implementations pass.

ASCII only: str.lower() would fold "\u212aiwi.example" (Kelvin sign) to "kiwi.example",
a host vhostd never routed there, and a kept-alive request for it would get no 421.
"""

from __future__ import annotations

import socket
from typing import Optional

__all__ = ["ConnectionHost", "normalize_host", "same_host"]

MAX_HOST_LENGTH = 253          # RFC 1035, without the trailing dot
MAX_LABEL_LENGTH = 63
MAX_PORT_DIGITS = 5
MAX_PORT = 65535
MAX_IPV6_TEXT = 45             # INET6_ADDRSTRLEN without its NUL

_DIGITS = frozenset("0123456789")
_HEX_DIGITS = _DIGITS | frozenset("abcdefABCDEF")
# '_' is not valid in DNS names but appears in real service names; vhostd accepts it too.
_LABEL_CHARS = _DIGITS | frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _is_valid_port(port: str) -> bool:
    """RFC 3986: port = *DIGIT, so "host:" is legal and means the default port."""
    if len(port) > MAX_PORT_DIGITS or not all(c in _DIGITS for c in port):
        return False
    return port == "" or int(port) <= MAX_PORT


def _canonical_ipv6(packed: bytes) -> str:
    """The address's one spelling (RFC 5952 without its mixed IPv4 notation, as WHATWG URLs
    write it): lower-case hex without leading zeros, the longest run of two or more zero
    groups (the first of equal runs) as "::"."""
    groups = [packed[i] << 8 | packed[i + 1] for i in range(0, 16, 2)]
    run_start, run_length = -1, 1   # runs of one zero group stay written
    i = 0
    while i < 8:
        end = i
        while end < 8 and groups[end] == 0:
            end += 1
        if end - i > run_length:
            run_start, run_length = i, end - i
        i = end if end > i else i + 1
    written = [format(group, "x") for group in groups]
    if run_start < 0:
        return "[" + ":".join(written) + "]"
    return "[" + ":".join(written[:run_start]) + "::" + ":".join(written[run_start + run_length:]) + "]"


def _normalize_ipv6_literal(raw: str) -> Optional[str]:
    """"[2001:DB8:0::1]:443" -> "[2001:db8::1]"."""
    close = raw.find("]")
    if close < 0:
        return None
    after = raw[close + 1:]
    if after and (after[0] != ":" or not _is_valid_port(after[1:])):
        return None
    address = raw[1:close]
    if len(address) > MAX_IPV6_TEXT or address.count(":") < 2:
        return None
    if not all(c in _HEX_DIGITS or c in ":." for c in address):   # '.' for an IPv4 tail; no zone ids
        return None
    try:
        packed = socket.inet_pton(socket.AF_INET6, address)
    except (OSError, ValueError):
        return None
    return _canonical_ipv6(packed)


def normalize_host(raw: Optional[str]) -> Optional[str]:
    """The host a Host header value (or SNI) names, as vhostd keys it: ASCII lower case,
    without a port and one trailing dot; None when it is not a valid host."""
    if not isinstance(raw, str) or raw == "":
        return None
    if raw[0] == "[":
        return _normalize_ipv6_literal(raw)
    name = raw
    colon = raw.find(":")
    if colon >= 0:
        # A second colon means an IPv6 address without brackets: ambiguous with a port.
        if raw.find(":", colon + 1) >= 0 or not _is_valid_port(raw[colon + 1:]):
            return None
        name = raw[:colon]
    if name.endswith("."):
        name = name[:-1]                   # "example.com." is the same host fully qualified
    if name == "" or len(name) > MAX_HOST_LENGTH:
        return None
    for label in name.split("."):
        if not label or len(label) > MAX_LABEL_LENGTH or not all(c in _LABEL_CHARS for c in label):
            return None
    return name.translate(_ASCII_LOWER)


def same_host(a: Optional[str], b: Optional[str]) -> bool:
    """True when both Host values are valid and name the same host (vhostd's rule: case, a
    port and one trailing dot do not matter). An invalid or empty host matches nothing."""
    normalized = normalize_host(a)
    return normalized is not None and normalized == normalize_host(b)


class ConnectionHost:
    """The host a connection is for: the one it was routed by (which is "" for HTTP/1.0
    without Host, sent to the default site), or, given None, its first request's. Every
    later request must be for the same host, or for none when that is none."""

    def __init__(self, routed: Optional[str]):
        self._host = routed

    def admits(self, request_host: str) -> bool:
        """True when a request for `request_host` (normalised, or "") may be served here."""
        if self._host is None:
            self._host = request_host
            return True
        if not self._host or not request_host:
            return self._host == request_host
        return same_host(request_host, self._host)
