"""wsgi.input: the request body, framed by Content-Length or chunked, read to its end."""

from .request_head import chunk_size, is_trailer_field
from .sockets import log

MAX_CHUNK_LINE = 8 * 1024   # a chunk-size or trailer line without its CRLF (http/chunked_body.hpp)


class BadBody(ValueError):
    """A chunked body that breaks RFC 9112 section 7.1: the request gets 400."""


class BodyInput:
    """wsgi.input: the request body only, however it is framed, so an application may read
    to the end. Subclasses supply _fill(): the next bytes of the body, b"" at its end."""

    def __init__(self):
        self._buffer = b""
        self._done = False

    def _more(self) -> bool:
        if self._done:
            return False
        data = self._fill()
        if not data:
            self._done = True
            return False
        self._buffer += data
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            while self._more():
                pass
            size = len(self._buffer)
        while len(self._buffer) < size and self._more():
            pass
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, size=-1):
        while b"\n" not in self._buffer and (size is None or size < 0 or len(self._buffer) < size):
            if not self._more():
                break
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if size is not None and size >= 0:
            end = min(end, size)
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def readlines(self, hint=-1):
        lines, total = [], 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self):
        return iter(self.readline, b"")

    def discard(self, limit: int) -> bool:
        """Skips what the application left unread, up to `limit` bytes; True when the body
        ended, so the next request starts where it should. False too when what is left of a
        chunked body breaks its framing: the answer has gone out, and the connection ends."""
        skipped = len(self._buffer)
        self._buffer = b""
        try:
            while skipped <= limit:
                if not self._more():
                    return True
                skipped += len(self._buffer)
                self._buffer = b""
        except BadBody as bad:
            log(f"vhostd: the unread rest of a request body is invalid ({bad}); closing the connection")
        return False


class LengthInput(BodyInput):
    def __init__(self, rfile, length: int):
        super().__init__()
        self._rfile, self._left = rfile, length

    def _fill(self):
        if self._left <= 0:
            return b""
        data = self._rfile.read1(min(self._left, 65536))
        if not data:
            raise ConnectionError("the client closed the connection inside a request body")
        self._left -= len(data)
        return data


class ChunkedInput(BodyInput):
    """Transfer-Encoding: chunked (RFC 9112 section 7.1), read by http/chunked_body.cpp's rule:
    sizes 1*HEXDIG, every line ended by CRLF; extensions and trailers are checked, then skipped."""

    def __init__(self, rfile):
        super().__init__()
        self._rfile, self._left = rfile, 0

    def _line(self) -> bytes:
        line = self._rfile.readline(MAX_CHUNK_LINE + 2)   # with its CRLF
        if not line:
            raise ConnectionError("the client closed the connection inside a chunked body")
        if not line.endswith(b"\r\n"):
            raise BadBody("a chunk line without CRLF")
        return line[:-2]

    def _fill(self):
        if self._left == 0:
            try:
                self._left = chunk_size(self._line())
            except ValueError as bad:
                raise BadBody(str(bad)) from None
            if self._left == 0:
                while trailer := self._line():                # trailer fields, skipped
                    if not is_trailer_field(trailer):
                        raise BadBody("an invalid trailer field")
                return b""
        data = self._rfile.read1(min(self._left, 65536))
        if not data:
            raise ConnectionError("the client closed the connection inside a chunk")
        self._left -= len(data)
        if self._left == 0 and self._line():
            raise BadBody("chunk data longer than its size")
        return data
