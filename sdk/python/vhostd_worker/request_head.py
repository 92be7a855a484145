"""The request-head grammar of http/request_head.cpp (docs/http-grammar.md), written again for
Python so that a Python worker reads every request as the front reads the first one. Pure:
bytes in, a verdict out; tests/vectors/requests.json holds the cases every parser passes.

Strict wherever two parsers could disagree: CRLF only, no obs-fold, one Host, Content-Length
1*DIGIT, only a final "chunked" transfer coding, "100-continue" the only expectation.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .host import normalize_host

__all__ = ["HeadLimits", "RequestHead", "HeadRefused", "parse_request_head", "chunk_size", "is_trailer_field"]

MAX_UINT64 = (1 << 64) - 1
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789"
                   b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset(b"0123456789")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_OWS = b" \t"


@dataclass
class HeadLimits:
    max_head_size: int = 16 * 1024     # the whole head, its final empty line included
    max_request_line: int = 8 * 1024   # beyond this: 414
    max_fields: int = 100              # beyond this: 431

    @classmethod
    def from_environment(cls, environ=None) -> "HeadLimits":
        """At least the front's limits (VHOSTD_MAX_HEAD_SIZE, VHOSTD_MAX_HEADER_FIELDS,
        docs/protocol.md section 2), so that no request the front routed is too large here."""
        environ = os.environ if environ is None else environ
        limits = cls()
        limits.max_head_size = _positive(environ.get("VHOSTD_MAX_HEAD_SIZE"), limits.max_head_size)
        limits.max_fields = _positive(environ.get("VHOSTD_MAX_HEADER_FIELDS"), limits.max_fields)
        limits.max_request_line = min(limits.max_request_line, limits.max_head_size)
        return limits


def _positive(text: Optional[str], fallback: int) -> int:
    if text is None or not text.isascii() or not text.isdigit() or int(text) == 0:
        return fallback
    return int(text)


@dataclass
class RequestHead:
    method: str
    target: str
    minor_version: int                 # HTTP/1.<minor>
    host: str                          # normalised; "" only for HTTP/1.0 without Host
    length: int                        # bytes up to and including the head's empty line
    fields: List[Tuple[str, str]] = field(default_factory=list)  # as sent, values trimmed
    framing: str = "none"              # "none", "length" or "chunked" (RFC 9112 section 6.3)
    content_length: int = 0
    expect_continue: bool = False
    websocket_upgrade: bool = False


class HeadRefused(Exception):
    """A head the grammar refuses: the status to answer and a reason for the log."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status} {reason}")
        self.status, self.reason = status, reason


def _list_contains(value: bytes, item: bytes) -> bool:
    """Comma-separated list membership, as Connection and Upgrade use it."""
    return any(part.strip(_OWS).lower() == item for part in value.split(b","))


def _absolute_form_authority(target: bytes) -> Optional[bytes]:
    """http:// and https:// only (any other scheme is a proxy request): the authority."""
    lower = target[:8].lower()
    for scheme in (b"http://", b"https://"):
        if lower.startswith(scheme):
            rest = target[len(scheme):]
            end = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
            return rest[:end]
    return None


def _version_shape(text: bytes) -> bool:
    """Fits "HTTP/" DIGIT "." DIGIT so far: an unsupported version (505), not garbage (400)."""
    shape = b"HTTP/#.#"
    return len(text) <= len(shape) and all(
        (c in _DIGITS) if s == ord("#") else c == s for c, s in zip(text, shape))


def _bad_byte(byte: int, otherwise: str) -> str:
    return "CR without LF" if byte == 0x0D else otherwise


def _version_reason(version: bytes) -> str:
    return "CR without LF" if b"\r" in version else "invalid HTTP version"


class _HeadParser:
    """One walk over the head, line by line, as http/request_head.cpp walks it: the last line
    may be partial and is checked as far as it goes, so the first refusal found is the same
    in both, whatever the bytes that follow."""

    def __init__(self, data: bytes, limits: HeadLimits):
        self.data, self.limits = data, limits
        self.method = self.target = b""
        self.minor = 1
        self.host: Optional[str] = None
        self.host_seen = False
        self.target_host: Optional[str] = None
        self.fields: List[Tuple[str, str]] = []
        self.content_length: Optional[int] = None
        self.chunked = self.other_coding = False
        self.expect_continue = self.upgrade_websocket = self.connection_upgrade = False

    def parse(self) -> Optional[RequestHead]:
        data, limits = self.data, self.limits
        pos = 2 if data.startswith(b"\r\n") else 0   # RFC 9112 section 2.2: one empty line
        text, complete, crlf, pos = _line_at(data, pos, min(len(data), pos + limits.max_request_line + 2))
        if len(text) > limits.max_request_line:
            self.request_line(text[:limits.max_request_line + 1], False)
            raise HeadRefused(414, "request line too long")
        self.request_line(text, complete)
        if not complete:
            return self.need_more()
        if not crlf:
            raise HeadRefused(400, "LF without CR")
        window = min(len(data), limits.max_head_size)
        while True:
            text, complete, crlf, pos = _line_at(data, pos, window)
            if complete and not crlf:
                raise HeadRefused(400, "LF without CR")
            if complete and not text:
                return self.finish(pos)
            if text and len(self.fields) + 1 > limits.max_fields:
                raise HeadRefused(431, "too many fields")
            self.field_line(text, complete)
            if not complete:
                return self.need_more()

    def need_more(self) -> None:
        if len(self.data) >= self.limits.max_head_size:
            raise HeadRefused(431, "head too large")
        return None

    def request_line(self, line: bytes, complete: bool) -> None:
        """method SP request-target SP HTTP-version, exactly one SP between the parts."""
        if not line:
            if complete:
                raise HeadRefused(400, "empty request line")
            return
        i = _span(line, 0, lambda c: c in _TOKEN)
        if i == len(line):
            if complete:
                raise HeadRefused(400, "missing request target")
            return
        if line[i] != 0x20:
            raise HeadRefused(400, _bad_byte(line[i], "invalid character in method"))
        if i == 0:
            raise HeadRefused(400, "empty method")
        self.method = line[:i]
        start = i + 1
        i = _span(line, start, lambda c: 0x20 < c < 0x7F)
        if i == len(line):
            if complete:
                raise HeadRefused(400, "missing HTTP version")
            return
        if line[i] != 0x20:
            raise HeadRefused(400, _bad_byte(line[i], "invalid character in target"))
        if i == start:
            raise HeadRefused(400, "empty target")
        self.target = line[start:i]
        version = line[i + 1:]
        if not complete:
            if not _version_shape(version):
                raise HeadRefused(400, _version_reason(version))
            return
        if version == b"HTTP/1.1":
            self.minor = 1
        elif version == b"HTTP/1.0":
            self.minor = 0
        elif len(version) == 8 and _version_shape(version):
            raise HeadRefused(505, "unsupported HTTP version")
        else:
            raise HeadRefused(400, _version_reason(version))
        self.check_target()

    def check_target(self) -> None:
        if self.method == b"CONNECT":
            raise HeadRefused(400, "CONNECT not supported")
        if self.target[:1] == b"/":
            return
        if self.target == b"*":
            if self.method != b"OPTIONS":
                raise HeadRefused(400, "asterisk-form target without OPTIONS")
            return
        authority = _absolute_form_authority(self.target)
        if authority is None:
            raise HeadRefused(400, "invalid request target")
        if b"@" in authority:
            raise HeadRefused(400, "userinfo in target")
        self.target_host = normalize_host(authority.decode("ascii"))
        if self.target_host is None:
            raise HeadRefused(400, "invalid host in target")

    def field_line(self, line: bytes, complete: bool) -> None:
        """field-name ":" OWS field-value OWS"""
        if not line:
            return
        if line[0] in _OWS:
            raise HeadRefused(400, "obs-fold")
        i = _span(line, 0, lambda c: c in _TOKEN)
        if i == len(line):
            if complete:
                raise HeadRefused(400, "field line without colon")
            return
        if line[i] != 0x3A:
            if line[i] in _OWS:
                raise HeadRefused(400, "whitespace before colon")
            raise HeadRefused(400, _bad_byte(line[i], "invalid character in field name"))
        if i == 0:
            raise HeadRefused(400, "empty field name")
        name, raw_value = line[:i], line[i + 1:]
        for c in raw_value:
            if c != 0x09 and (c < 0x20 or c == 0x7F):
                raise HeadRefused(400, _bad_byte(c, "control character in field value"))
        lower = name.lower()                  # bytes.lower() changes ASCII letters only
        if lower == b"host" and self.host_seen:
            raise HeadRefused(400, "more than one Host")
        if not complete:
            return
        value = raw_value.strip(_OWS)
        if lower == b"host":
            self.host_seen = True
            self.host = normalize_host(value.decode("latin-1"))
            if self.host is None:
                raise HeadRefused(400, "invalid Host")
        elif lower == b"upgrade":
            self.upgrade_websocket = self.upgrade_websocket or _list_contains(value, b"websocket")
        elif lower in (b"connection", b"proxy-connection"):
            # Connection options are tokens (RFC 9110 7.6.1); Beast refuses anything else.
            if not _is_token_list(value):
                raise HeadRefused(400, "invalid Connection")
            if lower == b"connection":
                self.connection_upgrade = self.connection_upgrade or _list_contains(value, b"upgrade")
        elif lower == b"content-length":
            self.read_content_length(value)
        elif lower == b"transfer-encoding":
            self.read_transfer_codings(value)
        elif lower == b"expect":
            if value.lower() != b"100-continue":   # the only expectation (RFC 9110 10.1.1)
                raise HeadRefused(417, "unsupported expectation")
            self.expect_continue = True
        self.fields.append((name.decode("latin-1"), value.decode("latin-1")))

    def read_content_length(self, value: bytes) -> None:
        """1*DIGIT within 64 bits, the same value when repeated (RFC 9112 section 6.3)."""
        if not value or not all(c in _DIGITS for c in value) or int(value) > MAX_UINT64:
            raise HeadRefused(400, "invalid Content-Length")
        if self.content_length is not None and self.content_length != int(value):
            raise HeadRefused(400, "conflicting Content-Length")
        self.content_length = int(value)

    def read_transfer_codings(self, value: bytes) -> None:
        """A list over any number of fields; only a final "chunked" is understood."""
        for coding in value.split(b","):
            coding = coding.strip(_OWS)
            if not coding or not all(c in _TOKEN for c in coding):
                raise HeadRefused(400, "invalid Transfer-Encoding")
            if self.chunked:
                raise HeadRefused(400, "chunked is not the final transfer coding")
            if coding.lower() == b"chunked":
                self.chunked = True
            else:
                self.other_coding = True

    def framing(self) -> str:
        """RFC 9112 sections 6.1 and 6.3: how the body is framed, or why it cannot be trusted."""
        if not self.chunked and not self.other_coding:
            return "none" if self.content_length is None else "length"
        if self.minor == 0:
            raise HeadRefused(400, "Transfer-Encoding in HTTP/1.0")
        if self.content_length is not None:
            raise HeadRefused(400, "Transfer-Encoding with Content-Length")
        if not self.chunked:
            raise HeadRefused(400, "chunked is not the final transfer coding")
        if self.other_coding:
            raise HeadRefused(501, "transfer coding not supported")
        return "chunked"

    def finish(self, length: int) -> RequestHead:
        framing = self.framing()
        if self.minor == 1 and not self.host_seen:
            raise HeadRefused(400, "missing Host")
        host = self.host
        if self.target_host is not None:
            # Both name the host; a reader might believe either, so they must agree.
            if host is None:
                host = self.target_host
            elif host != self.target_host:
                raise HeadRefused(400, "Host does not match absolute-form target")
        return RequestHead(method=self.method.decode("ascii"), target=self.target.decode("ascii"),
                           minor_version=self.minor, host=host or "", length=length,
                           fields=self.fields, framing=framing,
                           content_length=self.content_length or 0,
                           expect_continue=self.expect_continue,
                           websocket_upgrade=self.upgrade_websocket and self.connection_upgrade)


def _span(data: bytes, start: int, accept) -> int:
    """The index of the first byte from `start` that `accept` refuses (or len(data))."""
    i = start
    while i < len(data) and accept(data[i]):
        i += 1
    return i


def _line_at(data: bytes, start: int, limit: int) -> Tuple[bytes, bool, bool, int]:
    """(text without its line end, complete, ended by CRLF, start of the next line), looking
    no further than `limit`. A CR at the end of a partial line may still start its CRLF."""
    end = data.find(b"\n", start, limit) if start < limit else -1
    complete = end >= 0
    stop = end if complete else max(start, limit)
    crlf = False
    if stop > start and data[stop - 1] == 0x0D:
        stop -= 1
        crlf = complete
    return data[start:stop], complete, crlf, end + 1


def parse_request_head(data: bytes, limits: HeadLimits = HeadLimits()) -> Optional[RequestHead]:
    """The head at the start of `data` (the bytes a client sent, from the first); None when
    more bytes are needed and nothing seen is wrong yet; HeadRefused when it is refused."""
    return _HeadParser(data, limits).parse()


# chunk-size *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ), RFC 9112 7.1.1.
_TOKEN_RE = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED_RE = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x20-\x7e\x80-\xff])*"'
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]+)(?:[ \t]*;[ \t]*" + _TOKEN_RE + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN_RE
                         + rb"|" + _QUOTED_RE + rb"))?)*")


def chunk_size(line: bytes) -> int:
    """The size on a chunk-size line (RFC 9112 section 7.1, without its CRLF), whose
    extensions are skipped; ValueError when it is not one. http/chunked_body.cpp's rule."""
    match = _CHUNK_LINE.fullmatch(line)
    if not match:
        raise ValueError("invalid chunk size")
    size = int(match.group(1), 16)
    if size > MAX_UINT64:
        raise ValueError("chunk size beyond 64 bits")
    return size


def _is_token_list(value: bytes) -> bool:
    """#token: tokens separated by commas and OWS, empty elements allowed (RFC 9110 5.6.1)."""
    return all(all(c in _TOKEN for c in part.strip(_OWS)) for part in value.split(b","))


def is_trailer_field(line: bytes) -> bool:
    """A trailer line (without its CRLF) is a field line as in a head: name ":" value; never a
    framing field (RFC 9110 6.5.1), and Connection a token list (http/chunked_body.cpp)."""
    name, colon, value = line.partition(b":")
    if not (colon and name and all(c in _TOKEN for c in name)
            and all(c == 0x09 or (0x20 <= c != 0x7F) for c in value)):
        return False
    lower = name.lower()
    if lower in (b"content-length", b"transfer-encoding"):
        return False
    return _is_token_list(value) if lower in (b"connection", b"proxy-connection") else True
