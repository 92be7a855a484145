// Host normalisation, shared by the front (Host header, absolute-form authority, SNI) and the
// site table, so that both sides compare exactly the same string.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vhostd::router {

// "Blog.Example.:8080" -> "blog.example"; "[::1]:80" -> "[::1]".
// Lower-cases, removes an optional ":port" (digits only, <= 65535) and one trailing dot.
// Returns nullopt for anything that is not a valid host: empty, characters outside
// letters/digits/'-'/'.'/'_', empty labels (".." or a leading dot), a bad IPv6 literal,
// a bad port. Strict on purpose: the front and the worker must never read a host differently.
std::optional<std::string> normalize_host(std::string_view raw);

}  // namespace vhostd::router
