#include "http/chunked_body.hpp"

#include "http/ascii.hpp"
#include "http/field_value.hpp"

#include <algorithm>
#include <limits>

namespace vhostd::http {
namespace {

// Skips BWS (RFC 9110 §5.6.3) from `i`.
std::size_t skip_ows(std::string_view text, std::size_t i) {
    while (i < text.size() && is_ows(text[i])) ++i;
    return i;
}

std::size_t skip_token(std::string_view text, std::size_t i) {
    while (i < text.size() && is_token_char(text[i])) ++i;
    return i;
}

bool is_qdtext(unsigned char c) { return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x7E && c != '\\') || c >= 0x80; }
bool is_quoted_pair_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7F); }

// quoted-string from `i` (at its opening DQUOTE): the index after it, or npos.
std::size_t skip_quoted_string(std::string_view text, std::size_t i) {
    for (++i; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (++i == text.size() || !is_quoted_pair_char(static_cast<unsigned char>(text[i]))) return std::string_view::npos;
        } else if (!is_qdtext(c)) {
            return std::string_view::npos;
        }
    }
    return std::string_view::npos;
}

// *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ) to the end of `text`.
bool are_chunk_extensions(std::string_view text, std::size_t i) {
    while (i < text.size()) {
        i = skip_ows(text, i);
        if (i == text.size() || text[i] != ';') return false;
        const std::size_t name = skip_ows(text, i + 1);
        i = skip_token(text, name);
        if (i == name) return false;
        const std::size_t equals = skip_ows(text, i);
        if (equals == text.size() || text[equals] != '=') continue;
        const std::size_t value = skip_ows(text, equals + 1);
        if (value < text.size() && text[value] == '"') {
            i = skip_quoted_string(text, value);
            if (i == std::string_view::npos) return false;
        } else {
            i = skip_token(text, value);
            if (i == value) return false;
        }
    }
    return true;
}

// field-name ":" field-value, as a head's field lines (no obs-fold, no controls but HTAB).
// Framing fields cannot be trailers (RFC 9110 §6.5.1), and Connection is a token list, as in
// a head: Beast refuses those, and so does the grammar.
bool is_trailer_field(std::string_view line) {
    const std::size_t colon = skip_token(line, 0);
    if (colon == 0 || colon == line.size() || line[colon] != ':') return false;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 1);
    for (char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if (c != '\t' && (byte < 0x20 || byte == 0x7F)) return false;
    }
    if (equals_ignoring_case(name, "content-length") || equals_ignoring_case(name, "transfer-encoding")) return false;
    if (equals_ignoring_case(name, "connection") || equals_ignoring_case(name, "proxy-connection")) {
        return is_token_list(trim_ows(value));
    }
    return true;
}

struct LineEnd {
    ChunkedStatus status;
    std::size_t end = 0;  // the index of the CR, when complete
    const char* reason = "";
};

// The line from `start`: complete (its CRLF found), need_more, or an error. Looks no further
// than the longest line allowed.
LineEnd find_line(std::string_view bytes, std::size_t start, const char* what) {
    const std::size_t window = std::min(bytes.size() - start, max_chunk_line + 2);
    const std::size_t found = bytes.substr(start, window).find('\n');
    const std::size_t lf = found == std::string_view::npos ? found : start + found;
    const std::size_t seen = (lf == std::string_view::npos ? start + window : lf) - start;
    if (seen > max_chunk_line + 1) return {ChunkedStatus::error, 0, what};
    if (lf == std::string_view::npos) return {ChunkedStatus::need_more};
    if (lf == start || bytes[lf - 1] != '\r') return {ChunkedStatus::error, 0, "a chunked body line without CRLF"};
    return {ChunkedStatus::complete, lf - 1};
}

}  // namespace

bool parse_chunk_size_line(std::string_view line, unsigned long long& size) {
    std::size_t i = 0;
    size = 0;
    for (; i < line.size() && is_hex_digit(line[i]); ++i) {
        if (size > (std::numeric_limits<unsigned long long>::max() >> 4)) return false;
        const char c = to_lower(line[i]);
        size = (size << 4) | static_cast<unsigned long long>(is_digit(c) ? c - '0' : c - 'a' + 10);
    }
    return i > 0 && are_chunk_extensions(line, i);
}

ChunkedScan scan_chunked_body(std::string_view bytes, const ChunkedScan& from) {
    ChunkedScan scan;
    std::size_t pos = std::min(from.resume_at, bytes.size());
    scan.data_size = scan.resume_data_size = from.resume_data_size;
    // Where the next scan starts when this one needs more: the line at `pos`.
    auto need_more_from = [&](std::size_t line_start, bool in_trailers) {
        scan.resume_at = line_start;
        scan.resume_in_trailers = in_trailers;
        return scan;
    };
    while (!from.resume_in_trailers) {
        scan.resume_data_size = scan.data_size;
        const LineEnd size_line = find_line(bytes, pos, "a chunk-size line too long");
        if (size_line.status != ChunkedStatus::complete) {
            scan.status = size_line.status;
            scan.reason = size_line.reason;
            return need_more_from(pos, false);
        }
        unsigned long long size = 0;
        if (!parse_chunk_size_line(bytes.substr(pos, size_line.end - pos), size)) {
            scan.status = ChunkedStatus::error;
            scan.reason = "an invalid chunk size";
            return scan;
        }
        const std::size_t chunk_start = pos;
        pos = size_line.end + 2;
        if (size == 0) break;
        const std::size_t left = bytes.size() - pos;
        if (size >= left || left - size < 2) {  // not size + 2 < left: that wraps near 2^64
            if (size < left && bytes[pos + size] != '\r') {
                scan.status = ChunkedStatus::error;
                scan.reason = "chunk data longer than its size";
            }
            scan.data_size += size;  // announced: a reader can refuse a body too large before it comes
            return need_more_from(chunk_start, false);
        }
        if (bytes.substr(pos + size, 2) != "\r\n") {
            scan.status = ChunkedStatus::error;
            scan.reason = "chunk data longer than its size";
            return scan;
        }
        scan.data_size += size;
        pos += size + 2;
    }
    for (;;) {  // the trailer section
        const LineEnd line = find_line(bytes, pos, "a trailer line too long");
        if (line.status != ChunkedStatus::complete) {
            scan.status = line.status;
            scan.reason = line.reason;
            return need_more_from(pos, true);
        }
        const std::string_view text = bytes.substr(pos, line.end - pos);
        pos = line.end + 2;
        if (text.empty()) break;
        if (!is_trailer_field(text)) {
            scan.status = ChunkedStatus::error;
            scan.reason = "an invalid trailer field";
            return scan;
        }
    }
    scan.status = ChunkedStatus::complete;
    scan.length = pos;
    return scan;
}

}  // namespace vhostd::http
