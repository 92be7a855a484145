#include "http/cookie.hpp"

#include "http/ascii.hpp"
#include "http/field_value.hpp"

namespace vhostd::http {

namespace {

constexpr std::string_view crlf = "\r\n";

// `name=value` pairs separated by ';' (and, from lenient clients, no space after it).
std::optional<std::string_view> find_in_cookie_field(std::string_view pairs, std::string_view name) {
    while (!pairs.empty()) {
        const std::size_t end = pairs.find(';');
        const std::string_view pair = trim_ows(pairs.substr(0, end));
        pairs = end == std::string_view::npos ? std::string_view() : pairs.substr(end + 1);
        const std::size_t equals = pair.find('=');
        if (equals == std::string_view::npos || trim_ows(pair.substr(0, equals)) != name) continue;
        std::string_view value = trim_ows(pair.substr(equals + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        if (value.empty()) return std::nullopt;
        return value;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string_view> cookie_value(std::string_view head, std::string_view name) {
    std::size_t line_end = head.find(crlf);  // the request line
    while (line_end != std::string_view::npos) {
        head.remove_prefix(line_end + crlf.size());
        line_end = head.find(crlf);
        const std::string_view line = head.substr(0, line_end);
        if (line.empty()) break;  // the end of the head
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || !equals_ignoring_case(line.substr(0, colon), "cookie")) continue;
        if (auto value = find_in_cookie_field(line.substr(colon + 1), name)) return value;
    }
    return std::nullopt;
}

}  // namespace vhostd::http
