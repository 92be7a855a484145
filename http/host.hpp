// The one host grammar of vhostd: the front (Host header, absolute-form authority, SNI), the
// site table, the config's host patterns and the C++ workers all read hosts through here, so
// no two of them can read a host differently. The Node and Python SDKs implement the same
// rules and all three run the golden vectors in tests/vectors/hosts.json.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vhostd::http {

// "Blog.Example.:8080" -> "blog.example"; "[0:0::1]:80" -> "[::1]" (RFC 5952's spelling).
// Lower-cases (ASCII only), removes an optional ":port" (digits only, <= 65535) and one
// trailing dot. Returns nullopt for anything that is not a valid host: empty, characters
// outside letters/digits/'-'/'.'/'_', empty labels (".." or a leading dot), a label over 63
// or a name over 253 characters, a bad IPv6 literal, a bad port. Strict on purpose.
std::optional<std::string> normalize_host(std::string_view raw);

// True when both values are valid hosts that normalise to the same host: what a worker
// checks before it serves a kept-alive request on a connection routed to `routed`.
bool same_host(std::string_view a, std::string_view b);

// True when the normalised `host` is an address, not a name: a bracketed IPv6 literal, or a
// host whose last label is all digits (an IPv4 address; no top-level domain is numeric, the
// rule WHATWG URLs use). SNI may carry only names (RFC 6066 §3), though some clients send
// an address there anyway.
bool is_address(std::string_view host);

// A site's host pattern as the config writes it: an exact name, "*.suffix" (a name), an IPv4
// address or a bracketed IPv6 address, without a port. Returns the normalised pattern
// ("*.Blog.Example." -> "*.blog.example"), or nullopt with `problem` (when given) set to a
// short reason a config error can show.
std::optional<std::string> normalize_host_pattern(std::string_view pattern, std::string* problem = nullptr);

// True when the normalised `host` is matched by the normalised `pattern`: equal, or for
// "*.suffix" any host with at least one more label before ".suffix" (never "suffix" itself).
// The site table implements the same rule with hash maps; this is its plain statement.
bool host_matches_pattern(std::string_view host, std::string_view pattern);

}  // namespace vhostd::http
