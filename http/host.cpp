#include "http/host.hpp"

#include "http/ascii.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <cstring>

namespace vhostd::http {
namespace {

constexpr std::size_t max_host_length = 253;   // RFC 1035, without the trailing dot
constexpr std::size_t max_label_length = 63;
constexpr std::size_t max_port_digits = 5;
constexpr unsigned max_port = 65535;
constexpr std::string_view wildcard_prefix = "*.";

// '_' is not valid in DNS host names, but it appears in real service names; accepting it
// costs nothing as long as the front and the worker agree.
bool is_label_char(char c) { return is_letter(c) || is_digit(c) || c == '-' || c == '_'; }

// RFC 3986: port = *DIGIT, so "host:" is legal and means the default port.
bool is_valid_port(std::string_view port) {
    if (port.size() > max_port_digits) {
        return false;
    }
    unsigned value = 0;
    for (char c : port) {
        if (!is_digit(c)) {
            return false;
        }
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value <= max_port;
}

// The address's one spelling (RFC 5952 without its mixed IPv4 notation, as WHATWG URLs
// write it): lower-case hex without leading zeros, the longest run of two or more zero
// groups (the first of equal runs) as "::". So "[0:0::1]" and "[::1]" are one host.
std::string canonical_ipv6(const in6_addr& address) {
    std::array<unsigned, 8> groups{};
    for (std::size_t i = 0; i < groups.size(); ++i) groups[i] = address.s6_addr[2 * i] << 8 | address.s6_addr[2 * i + 1];
    std::size_t run_start = groups.size(), run_length = 1;  // runs of one zero group stay written
    for (std::size_t i = 0; i < groups.size();) {
        std::size_t end = i;
        while (end < groups.size() && groups[end] == 0) ++end;
        if (end - i > run_length) {
            run_start = i;
            run_length = end - i;
        }
        i = end == i ? i + 1 : end;
    }
    std::string text = "[";
    char hex[5];
    for (std::size_t i = 0; i < groups.size(); ++i) {
        if (i == run_start) {
            text += "::";
            i += run_length - 1;
            continue;
        }
        if (text.back() != ':' && text.size() > 1) text.push_back(':');
        std::snprintf(hex, sizeof hex, "%x", groups[i]);
        text += hex;
    }
    text.push_back(']');
    return text;
}

// "[2001:DB8:0::1]:443" -> "[2001:db8::1]".
std::optional<std::string> normalize_ipv6_literal(std::string_view raw) {
    const std::size_t close = raw.find(']');
    if (close == std::string_view::npos) {
        return std::nullopt;
    }
    const std::string_view after = raw.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !is_valid_port(after.substr(1)))) {
        return std::nullopt;
    }

    const std::string_view address = raw.substr(1, close - 1);
    char text[INET6_ADDRSTRLEN] = {};  // inet_pton needs a NUL-terminated copy
    if (address.size() >= sizeof text) {
        return std::nullopt;
    }
    std::size_t colons = 0;
    for (char c : address) {
        if (c == ':') {
            ++colons;
        } else if (!is_hex_digit(c) && c != '.') {  // '.' only for an IPv4 tail; no zone ids
            return std::nullopt;
        }
    }
    if (colons < 2) {
        return std::nullopt;
    }
    std::memcpy(text, address.data(), address.size());
    in6_addr parsed{};
    if (inet_pton(AF_INET6, text, &parsed) != 1) {
        return std::nullopt;
    }
    return canonical_ipv6(parsed);
}

}  // namespace

std::optional<std::string> normalize_host(std::string_view raw) {
    if (raw.empty()) {
        return std::nullopt;
    }
    if (raw.front() == '[') {
        return normalize_ipv6_literal(raw);
    }

    std::string_view name = raw;
    if (const std::size_t colon = raw.find(':'); colon != std::string_view::npos) {
        // A second colon means an IPv6 address without brackets: ambiguous with a port.
        if (raw.find(':', colon + 1) != std::string_view::npos || !is_valid_port(raw.substr(colon + 1))) {
            return std::nullopt;
        }
        name = raw.substr(0, colon);
    }
    if (!name.empty() && name.back() == '.') {
        name.remove_suffix(1);  // "example.com." is the same host written fully qualified
    }
    if (name.empty() || name.size() > max_host_length) {
        return std::nullopt;
    }

    std::string result;
    result.reserve(name.size());
    std::size_t label_length = 0;
    for (char c : name) {
        if (c == '.') {
            if (label_length == 0) {
                return std::nullopt;
            }
            label_length = 0;
        } else if (!is_label_char(c) || ++label_length > max_label_length) {
            return std::nullopt;
        }
        result.push_back(to_lower(c));
    }
    if (label_length == 0) {  // "a.." left "a." after the one dot we strip
        return std::nullopt;
    }
    return result;
}

bool same_host(std::string_view a, std::string_view b) {
    const auto first = normalize_host(a);
    return first && first == normalize_host(b);
}

bool is_address(std::string_view host) {
    if (host.starts_with('[')) {
        return true;
    }
    const std::size_t dot = host.rfind('.');
    const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
    return !last.empty() && std::all_of(last.begin(), last.end(), is_digit);
}

std::optional<std::string> normalize_host_pattern(std::string_view pattern, std::string* problem) {
    auto refuse = [problem](const char* reason) -> std::optional<std::string> {
        if (problem) {
            *problem = reason;
        }
        return std::nullopt;
    };
    if (pattern.starts_with('[')) {
        const std::size_t close = pattern.find(']');
        if (close != std::string_view::npos && close + 1 < pattern.size() && pattern[close + 1] == ':') {
            return refuse("must not include a port");
        }
        if (close + 1 != pattern.size()) {  // also "[::1]." : a literal has no trailing dot
            return refuse("is not a valid bracketed IPv6 address");
        }
        auto literal = normalize_host(pattern);
        return literal ? literal : refuse("is not a valid bracketed IPv6 address");
    }
    if (pattern.find(':') != std::string_view::npos) {
        const std::string terminated(pattern);
        in6_addr parsed{};
        return refuse(inet_pton(AF_INET6, terminated.c_str(), &parsed) == 1
                          ? "an IPv6 address must be in brackets, like \"[::1]\""
                          : "must not include a port");
    }
    constexpr const char* not_a_pattern = "must be a host name, \"*.suffix\", an IPv4 address or a bracketed IPv6 address";
    if (pattern.starts_with(wildcard_prefix)) {
        auto suffix = normalize_host(pattern.substr(wildcard_prefix.size()));
        if (!suffix || suffix->front() == '[') {  // a wildcard covers names, not addresses
            return refuse(not_a_pattern);
        }
        return std::string(wildcard_prefix) + *suffix;
    }
    auto name = normalize_host(pattern);
    return name ? name : refuse(not_a_pattern);
}

bool host_matches_pattern(std::string_view host, std::string_view pattern) {
    if (!pattern.starts_with(wildcard_prefix)) {
        return host == pattern;
    }
    const std::string_view dotted_suffix = pattern.substr(1);  // ".blog.example"
    return host.size() > dotted_suffix.size() && host.ends_with(dotted_suffix);
}

}  // namespace vhostd::http
