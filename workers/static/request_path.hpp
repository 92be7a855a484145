// What file a request target names, relative to the served root. Pure: no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vhostd::static_files {

struct RequestPath {
    std::string relative;         // "" for the root, else "docs/a b.html": decoded, no dot segments
    bool directory_form = false;  // the path ended with '/': the client asks for a directory
};

// "http://host/a?b" -> "/a?b": an absolute-form target loses its scheme and authority; an
// origin-form one is returned as it is.
std::string_view origin_form(std::string_view target);

// Percent-decodes the path of an origin-form ("/a/b?q") or absolute-form target and resolves
// "." and ".." segments. nullopt for anything that is not a plain path: a bad or NUL escape,
// an encoded '/', a ".." that climbs above the root. Dot files (".git", ".env") are refused
// unless `allow_dot_files`: they are almost never meant to be published. The top-level
// "/.well-known/" is the exception: it exists to be fetched (ACME challenges, security.txt).
std::optional<RequestPath> parse_request_path(std::string_view target, bool allow_dot_files = false);

}  // namespace vhostd::static_files
