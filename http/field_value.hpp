// Field-value pieces of RFC 9110 §5.6 that the front and the workers read alike.
#pragma once

#include "http/ascii.hpp"

#include <algorithm>
#include <string_view>

namespace vhostd::http {

// Optional whitespace (RFC 9110 §5.6.3): space and horizontal tab, nothing else.
constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }

constexpr std::string_view trim_ows(std::string_view text) {
    while (!text.empty() && is_ows(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_ows(text.back())) text.remove_suffix(1);
    return text;
}

// #token: tokens separated by commas and OWS, empty elements allowed (RFC 9110 §5.6.1), as
// Connection's options are. Beast refuses a Connection field that is not one.
constexpr bool is_token_list(std::string_view list) {
    for (;;) {
        const std::size_t comma = list.find(',');
        const std::string_view element = trim_ows(list.substr(0, comma));
        if (!std::all_of(element.begin(), element.end(), is_token_char)) return false;
        if (comma == std::string_view::npos) return true;
        list.remove_prefix(comma + 1);
    }
}

}  // namespace vhostd::http
