// Where a chunked body ends (RFC 9112 §7.1), by the one grammar the front and every worker
// share (docs/http-grammar.md): pure, bytes in, a verdict out. The C++ workers run it over
// the bytes of a chunked body before Beast parses them, so that Beast never reads a body
// that the Node and Python workers would read otherwise.
#pragma once

#include <cstddef>
#include <string_view>

namespace vhostd::http {

// The longest chunk-size or trailer line, without its CRLF.
inline constexpr std::size_t max_chunk_line = 8 * 1024;

enum class ChunkedStatus { complete, need_more, error };

struct ChunkedScan {
    ChunkedStatus status = ChunkedStatus::need_more;
    std::size_t length = 0;      // complete: the bytes of the body, from its first to its last CRLF
    // complete: the bytes of chunk data, which is what the body carries; need_more: the bytes
    // its chunks so far announce, the one in progress included
    std::size_t data_size = 0;
    const char* reason = "";     // error: why, for the log

    // need_more: where a scan of the same bytes with more after them can go on (the start of
    // the first line not yet whole), so that a body arriving in many reads is scanned once.
    std::size_t resume_at = 0;
    std::size_t resume_data_size = 0;  // the data of the chunks before resume_at
    bool resume_in_trailers = false;
};

// Scans `bytes`, which start at the first byte of a chunked body:
//   chunk      = 1*HEXDIG *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ) CRLF
//                data CRLF                      (a size within 64 bits)
//   last chunk = 1*"0" [ extensions ] CRLF, then trailer field lines (as in a head), CRLF.
// Every line ends with CRLF; a lone LF is an error. `from`, the need_more result of a scan
// of a prefix of `bytes`, skips what that scan read already.
ChunkedScan scan_chunked_body(std::string_view bytes, const ChunkedScan& from = {});

// The size of a chunk-size line (without its CRLF), or false when it is not one.
bool parse_chunk_size_line(std::string_view line, unsigned long long& size);

}  // namespace vhostd::http
