// Field-value pieces of RFC 9110 §5.6 that the front and the workers read alike.
#pragma once

#include <string_view>

namespace vhostd::http {

// Optional whitespace (RFC 9110 §5.6.3): space and horizontal tab, nothing else.
constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }

constexpr std::string_view trim_ows(std::string_view text) {
    while (!text.empty() && is_ows(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_ows(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace vhostd::http
