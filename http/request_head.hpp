// The pure HTTP/1.x request-head parser: bytes in, complete / need more / error out.
// It never touches a socket. The front feeds it the bytes it has peeked so far; the C++
// workers read every request of a connection through it, so that the two read alike. The
// grammar is written down in docs/http-grammar.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vhostd::http {

struct HeadLimits {
    std::size_t max_head_size = 16 * 1024;    // whole head including the final empty line
    std::size_t max_request_line = 8 * 1024;  // beyond this: 414
    std::size_t max_fields = 100;             // beyond this: 431
};

// How the request's body is delimited (RFC 9112 §6.3).
enum class BodyFraming { none, content_length, chunked };

struct RequestHead {
    std::string method;
    std::string target;
    int minor_version = 1;           // HTTP/1.<minor>
    std::string host;                // normalised (normalize_host); empty only for HTTP/1.0 without Host
    bool websocket_upgrade = false;  // "Upgrade: websocket" and "Connection: ... upgrade ..."
    std::size_t length = 0;          // bytes up to and including the empty line that ends the head
    BodyFraming body = BodyFraming::none;
    std::uint64_t content_length = 0;  // with BodyFraming::content_length
    bool expect_continue = false;      // "Expect: 100-continue": the client waits for a 100 or an answer
};

enum class HeadStatus { complete, need_more, error };

struct HeadParseResult {
    HeadStatus status = HeadStatus::need_more;
    int http_status = 0;      // for errors: 400, 414, 417, 431, 501 or 505
    std::string reason;       // for errors: a short reason for the log ("two Host fields")
    RequestHead head;         // for complete
};

// Parses `bytes`, which start at the first byte the client sent. Rules (RFC 9112, strict on
// whatever could let the front and a worker disagree about the Host):
//  - one leading empty line (CRLF) is ignored; every line ends with CRLF (a lone LF -> 400:
//    RFC 9112 §2.2 allows either reading, and parsers differ, so there is only one);
//  - request line: token SP origin-form|absolute-form|authority-form|"*" SP "HTTP/1." DIGIT;
//    a version other than HTTP/1.x -> 505; line longer than max_request_line -> 414;
//  - fields: no whitespace before the colon, no obs-fold, no control characters but HTAB in
//    values, names are tokens -> else 400; more than max_fields -> 431;
//  - exactly one Host on HTTP/1.1 (zero or one on 1.0), valid per normalize_host -> else 400;
//  - absolute-form target: its authority must equal the Host after normalisation -> else 400;
//  - Content-Length: 1*DIGIT within 64 bits, equal when repeated -> else 400;
//  - Transfer-Encoding: only on HTTP/1.1, never with Content-Length, "chunked" last -> else
//    400; another coding before it -> 501;
//  - Expect: only "100-continue" -> else 417;
//  - no end of head within max_head_size -> 431.
// need_more is returned only when nothing seen so far is already an error.
HeadParseResult parse_request_head(std::string_view bytes, const HeadLimits& limits);

// The length of the one empty line (CRLF) RFC 9112 section 2.2 lets a client
// send before the request line: 0 or 2. It is not part of the request, and the front
// takes it out before a worker reads (many parsers refuse it).
std::size_t leading_empty_line(std::string_view bytes);

}  // namespace vhostd::http
