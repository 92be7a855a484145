#include "http/request_head.hpp"

#include "http/ascii.hpp"
#include "http/field_value.hpp"
#include "http/host.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

namespace vhostd::http {
namespace {

// Request targets are ASCII without spaces or controls; anything else must be percent-encoded.
bool is_target_char(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte < 0x7F;
}

// VCHAR, obs-text, SP and HTAB (RFC 9110 field-value plus the OWS around it).
bool is_field_value_char(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return c == '\t' || (byte >= 0x20 && byte != 0x7F);
}

bool starts_with_ignoring_case(std::string_view text, std::string_view lower) {
    return text.size() >= lower.size() && equals_ignoring_case(text.substr(0, lower.size()), lower);
}

// Comma-separated list membership, as used by Connection and Upgrade ("keep-alive, Upgrade").
bool list_contains(std::string_view list, std::string_view lower_item) {
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        if (equals_ignoring_case(trim_ows(list.substr(0, comma)), lower_item)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return false;
}

// The shape "HTTP/" DIGIT "." DIGIT, which tells an unsupported version (505) from garbage (400).
constexpr std::string_view version_shape = "HTTP/#.#";

bool fits_version_shape(std::string_view text) {
    if (text.size() > version_shape.size()) {
        return false;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        const bool fits = version_shape[i] == '#' ? is_digit(text[i]) : text[i] == version_shape[i];
        if (!fits) {
            return false;
        }
    }
    return true;
}

// A CR that is not part of a line end is always the problem, whatever field it sits in.
const char* bad_byte_reason(char c, const char* otherwise) { return c == '\r' ? "CR without LF" : otherwise; }

const char* invalid_version_reason(std::string_view version) {
    return version.find('\r') != std::string_view::npos ? "CR without LF" : "invalid HTTP version";
}

// http:// and https:// only: the front routes web traffic, and any other scheme would be a proxy
// request. Returns the authority: everything up to the path, the query or the end.
std::optional<std::string_view> absolute_form_authority(std::string_view target) {
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (starts_with_ignoring_case(target, scheme)) {
            const std::string_view rest = target.substr(scheme.size());
            return rest.substr(0, rest.find_first_of("/?"));
        }
    }
    return std::nullopt;
}

// One line of the head, found without looking past `limit`.
struct Line {
    std::string_view text;  // without its LF or CRLF
    bool complete = false;  // false: the LF has not arrived (or lies beyond `limit`)
    bool crlf = false;      // complete, and ended by CRLF rather than a lone LF
    std::size_t next = 0;   // where the following line starts, when complete
};

Line line_at(std::string_view bytes, std::size_t start, std::size_t limit) {
    Line line;
    if (start >= limit) {
        return line;
    }
    const void* lf = std::memchr(bytes.data() + start, '\n', limit - start);
    std::size_t end = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - bytes.data()) : limit;
    line.complete = lf != nullptr;
    line.next = end + 1;
    // A CR just before the LF is part of the line end. At the end of a partial line it may
    // still become one, so it is not held against the line yet.
    if (end > start && bytes[end - 1] == '\r') {
        --end;
        line.crlf = line.complete;
    }
    line.text = bytes.substr(start, end - start);
    return line;
}

// Walks the head line by line, once. The last line may be partial: it is checked as far as it
// goes, so that a head that is already wrong is refused without waiting for the rest.
class HeadParser {
public:
    HeadParser(std::string_view bytes, const HeadLimits& limits) : bytes_(bytes), limits_(limits) {}

    HeadParseResult parse() {
        // RFC 9112 2.2: a server should ignore at least one empty line before the request line.
        std::size_t pos = leading_empty_line(bytes_);

        // The whole head, final empty line included, must end within max_head_size.
        const std::size_t window = std::min(bytes_.size(), limits_.max_head_size);

        // Room for the longest allowed line plus its CRLF: a line that has no LF within that is
        // too long. Not capped by the window, so that an overlong request line is a 414 even
        // when it also makes the head too large.
        const std::size_t line_limit = std::min(bytes_.size(), pos + limits_.max_request_line + 2);
        const Line request_line = line_at(bytes_, pos, line_limit);
        if (request_line.text.size() > limits_.max_request_line) {
            // Judged on its first max_request_line + 1 bytes only, as when it first became too
            // long, so that later bytes cannot change the verdict.
            const std::string_view seen = request_line.text.substr(0, limits_.max_request_line + 1);
            if (!check_request_line(seen, false)) {
                return std::move(result_);
            }
            return fail(414, "request line too long");
        }
        if (!check_request_line(request_line.text, request_line.complete)) {
            return std::move(result_);
        }
        if (!request_line.complete) {
            return need_more_or_too_large();
        }
        if (!request_line.crlf) {
            return fail(400, "LF without CR");
        }

        for (pos = request_line.next;;) {
            const Line line = line_at(bytes_, pos, window);
            if (line.complete && !line.crlf) {
                return fail(400, "LF without CR");
            }
            if (line.complete && line.text.empty()) {
                return finish(line.next);
            }
            // A non-empty line can only be a field line, even before its LF arrives.
            if (!line.text.empty() && field_count_ + 1 > limits_.max_fields) {
                return fail(431, "too many fields");
            }
            if (!check_field_line(line.text, line.complete)) {
                return std::move(result_);
            }
            if (!line.complete) {
                return need_more_or_too_large();
            }
            ++field_count_;
            pos = line.next;
        }
    }

private:
    HeadParseResult fail(int http_status, const char* reason) {
        mark_failed(http_status, reason);
        return std::move(result_);
    }

    bool mark_failed(int http_status, const char* reason) {
        result_.status = HeadStatus::error;
        result_.http_status = http_status;
        result_.reason = reason;
        return false;
    }

    HeadParseResult need_more_or_too_large() {
        if (bytes_.size() >= limits_.max_head_size) {
            return fail(431, "head too large");
        }
        result_.status = HeadStatus::need_more;
        return std::move(result_);
    }

    // method SP request-target SP HTTP-version, exactly one SP between the parts.
    bool check_request_line(std::string_view text, bool complete) {
        if (text.empty()) {
            return complete ? mark_failed(400, "empty request line") : true;
        }

        std::size_t i = 0;
        while (i < text.size() && is_token_char(text[i])) ++i;
        if (i == text.size()) {
            return complete ? mark_failed(400, "missing request target") : true;
        }
        if (text[i] != ' ') {
            return mark_failed(400, bad_byte_reason(text[i], "invalid character in method"));
        }
        if (i == 0) {
            return mark_failed(400, "empty method");
        }
        method_ = text.substr(0, i);

        const std::size_t target_start = ++i;
        while (i < text.size() && is_target_char(text[i])) ++i;
        if (i == text.size()) {
            return complete ? mark_failed(400, "missing HTTP version") : true;
        }
        if (text[i] != ' ') {
            return mark_failed(400, bad_byte_reason(text[i], "invalid character in target"));
        }
        if (i == target_start) {
            return mark_failed(400, "empty target");
        }
        target_ = text.substr(target_start, i - target_start);

        const std::string_view version = text.substr(i + 1);
        if (!complete) {
            return fits_version_shape(version) ? true : mark_failed(400, invalid_version_reason(version));
        }
        // The version goes first so that the HTTP/2 preface ("PRI * HTTP/2.0") gets its 505.
        return check_version(version) && check_target();
    }

    bool check_version(std::string_view version) {
        if (version == "HTTP/1.1") {
            minor_version_ = 1;
            return true;
        }
        if (version == "HTTP/1.0") {
            minor_version_ = 0;
            return true;
        }
        if (version.size() == version_shape.size() && fits_version_shape(version)) {
            return mark_failed(505, "unsupported HTTP version");
        }
        return mark_failed(400, invalid_version_reason(version));
    }

    bool check_target() {
        if (method_ == "CONNECT") {
            return mark_failed(400, "CONNECT not supported");  // the front is not a proxy
        }
        if (target_.front() == '/') {
            return true;
        }
        if (target_ == "*") {
            return method_ == "OPTIONS" ? true : mark_failed(400, "asterisk-form target without OPTIONS");
        }
        const std::optional<std::string_view> authority = absolute_form_authority(target_);
        if (!authority) {
            return mark_failed(400, "invalid request target");
        }
        if (authority->find('@') != std::string_view::npos) {
            return mark_failed(400, "userinfo in target");
        }
        target_host_ = normalize_host(*authority);
        if (!target_host_) {
            return mark_failed(400, "invalid host in target");
        }
        return true;
    }

    // field-name ":" OWS field-value OWS
    bool check_field_line(std::string_view text, bool complete) {
        if (text.empty()) {
            return true;  // the start of a line that has not arrived yet
        }
        if (is_ows(text.front())) {
            return mark_failed(400, "obs-fold");
        }

        std::size_t i = 0;
        while (i < text.size() && is_token_char(text[i])) ++i;
        if (i == text.size()) {
            return complete ? mark_failed(400, "field line without colon") : true;
        }
        if (text[i] != ':') {
            if (is_ows(text[i])) {
                return mark_failed(400, "whitespace before colon");
            }
            return mark_failed(400, bad_byte_reason(text[i], "invalid character in field name"));
        }
        if (i == 0) {
            return mark_failed(400, "empty field name");
        }

        const std::string_view name = text.substr(0, i);
        const std::string_view raw_value = text.substr(i + 1);
        for (char c : raw_value) {
            if (!is_field_value_char(c)) {
                return mark_failed(400, bad_byte_reason(c, "control character in field value"));
            }
        }

        const bool is_host = equals_ignoring_case(name, "host");
        if (is_host && host_) {
            return mark_failed(400, "more than one Host");
        }
        if (!complete) {
            return true;
        }

        const std::string_view value = trim_ows(raw_value);
        if (is_host) {
            host_ = normalize_host(value);
            if (!host_) {
                return mark_failed(400, "invalid Host");
            }
        } else if (equals_ignoring_case(name, "upgrade")) {
            upgrade_to_websocket_ = upgrade_to_websocket_ || list_contains(value, "websocket");
        } else if (equals_ignoring_case(name, "connection") || equals_ignoring_case(name, "proxy-connection")) {
            // Connection options are tokens (RFC 9110 §7.6.1); Beast refuses anything else.
            if (!is_token_list(value)) {
                return mark_failed(400, "invalid Connection");
            }
            if (equals_ignoring_case(name, "connection")) {
                connection_upgrade_ = connection_upgrade_ || list_contains(value, "upgrade");
            }
        } else if (equals_ignoring_case(name, "content-length")) {
            return read_content_length(value);
        } else if (equals_ignoring_case(name, "transfer-encoding")) {
            return read_transfer_codings(value);
        } else if (equals_ignoring_case(name, "expect")) {
            // 100-continue is the only expectation HTTP defines (RFC 9110 §10.1.1).
            if (!equals_ignoring_case(value, "100-continue")) {
                return mark_failed(417, "unsupported expectation");
            }
            expect_continue_ = true;
        }
        return true;
    }

    // 1*DIGIT, and the same value when repeated (RFC 9112 §6.3: anything else is 400). Lists
    // ("5, 5"), signs and values beyond 64 bits are refused: parsers disagree about them.
    bool read_content_length(std::string_view value) {
        std::uint64_t length = 0;
        const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
        const bool digits_only = !value.empty() && std::all_of(value.begin(), value.end(), is_digit);
        if (!digits_only || error != std::errc() || end != value.data() + value.size()) {
            return mark_failed(400, "invalid Content-Length");
        }
        if (content_length_ && *content_length_ != length) {
            return mark_failed(400, "conflicting Content-Length");
        }
        content_length_ = length;
        return true;
    }

    // A comma-separated list of codings, over any number of fields; only a final "chunked"
    // is understood (RFC 9112 §6.1, §7).
    bool read_transfer_codings(std::string_view value) {
        for (;;) {
            const std::size_t comma = value.find(',');
            const std::string_view coding = trim_ows(value.substr(0, comma));
            if (coding.empty() || !std::all_of(coding.begin(), coding.end(), is_token_char)) {
                return mark_failed(400, "invalid Transfer-Encoding");
            }
            if (chunked_) {
                return mark_failed(400, "chunked is not the final transfer coding");
            }
            if (equals_ignoring_case(coding, "chunked")) {
                chunked_ = true;
            } else {
                other_coding_ = true;
            }
            if (comma == std::string_view::npos) {
                break;
            }
            value.remove_prefix(comma + 1);
        }
        return true;
    }

    // RFC 9112 §6.1 and §6.3: how the body is framed, or why the framing cannot be trusted.
    bool check_framing() {
        if (!chunked_ && !other_coding_) {
            return true;
        }
        if (minor_version_ == 0) {
            return mark_failed(400, "Transfer-Encoding in HTTP/1.0");
        }
        if (content_length_) {
            return mark_failed(400, "Transfer-Encoding with Content-Length");
        }
        if (!chunked_) {
            return mark_failed(400, "chunked is not the final transfer coding");
        }
        if (other_coding_) {
            return mark_failed(501, "transfer coding not supported");
        }
        return true;
    }

    HeadParseResult finish(std::size_t length) {
        if (!check_framing()) {
            return std::move(result_);
        }
        if (minor_version_ == 1 && !host_) {
            return fail(400, "missing Host");
        }
        if (target_host_) {
            // Both name the host; a worker might believe either, so they must agree.
            if (!host_) {
                host_ = std::move(target_host_);
            } else if (*host_ != *target_host_) {
                return fail(400, "Host does not match absolute-form target");
            }
        }

        result_.status = HeadStatus::complete;
        RequestHead& head = result_.head;
        head.method = method_;
        head.target = target_;
        head.minor_version = minor_version_;
        head.host = host_ ? std::move(*host_) : std::string();
        head.websocket_upgrade = upgrade_to_websocket_ && connection_upgrade_;
        head.length = length;
        head.body = chunked_ ? BodyFraming::chunked : content_length_ ? BodyFraming::content_length : BodyFraming::none;
        head.content_length = content_length_.value_or(0);
        head.expect_continue = expect_continue_;
        return std::move(result_);
    }

    std::string_view bytes_;
    const HeadLimits& limits_;
    HeadParseResult result_;

    std::string_view method_;
    std::string_view target_;
    int minor_version_ = 1;
    std::optional<std::string> host_;         // from the Host field
    std::optional<std::string> target_host_;  // from an absolute-form target
    std::size_t field_count_ = 0;
    bool upgrade_to_websocket_ = false;
    bool connection_upgrade_ = false;
    std::optional<std::uint64_t> content_length_;
    bool chunked_ = false;       // the last transfer coding so far is chunked
    bool other_coding_ = false;  // some coding other than chunked was named
    bool expect_continue_ = false;
};

}  // namespace

std::size_t leading_empty_line(std::string_view bytes) { return bytes.starts_with("\r\n") ? 2 : 0; }

HeadParseResult parse_request_head(std::string_view bytes, const HeadLimits& limits) {
    return HeadParser(bytes, limits).parse();
}

}  // namespace vhostd::http
