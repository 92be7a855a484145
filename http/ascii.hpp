// ASCII character classes for the HTTP grammar: HTTP is ASCII, and the locale-dependent
// <cctype> functions must not decide what a request means.
#pragma once

#include <array>
#include <string_view>

namespace vhostd::http {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
constexpr bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 tchar, as a table: it is consulted for every byte of every method and field name.
inline constexpr std::array<bool, 256> token_chars = [] {
    std::array<bool, 256> table{};
    for (int c = 0; c < 256; ++c) table[c] = is_digit(static_cast<char>(c)) || is_letter(static_cast<char>(c));
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
    return table;
}();

constexpr bool is_token_char(char c) { return token_chars[static_cast<unsigned char>(c)]; }

// `lower` must be lower-case already.
constexpr bool equals_ignoring_case(std::string_view text, std::string_view lower) {
    if (text.size() != lower.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (to_lower(text[i]) != lower[i]) return false;
    }
    return true;
}

}  // namespace vhostd::http
