// The Range header of a GET (RFC 9110 section 14.2). Pure: no I/O.
#pragma once

#include <cstdint>
#include <string_view>

namespace vhostd::static_files {

struct RangeRequest {
    // whole: serve the whole file (no Range, one we may ignore, or several ranges);
    // partial: 206 with [first, last]; unsatisfiable: 416.
    enum class Kind { whole, partial, unsatisfiable } kind = Kind::whole;
    std::uint64_t first = 0;
    std::uint64_t last = 0;  // inclusive
};

// A syntactically invalid Range is ignored, as RFC 9110 allows; so are multiple ranges
// (a multipart/byteranges answer buys clients little and costs a lot of code).
RangeRequest parse_range(std::string_view header, std::uint64_t size);

}  // namespace vhostd::static_files
