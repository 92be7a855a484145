// The short, complete HTTP/1.1 answers the front gives itself (the table "What the front
// answers itself" in README.md). Pure.
#pragma once

#include <string>
#include <string_view>

namespace vhostd::server {

// A response with "Connection: close", a one-line text body and, for 503, Retry-After.
std::string error_response(int status, int retry_after_seconds = 0);

// 308 Permanent Redirect to `location` (an https URL for a site with https_redirect):
// unlike 301, the client repeats the same method and body there.
std::string redirect_response(std::string_view location);

// 200 with an HTTP-01 key authorization as the body (RFC 8555 §8.3).
std::string acme_challenge_response(std::string_view key_authorization);

}  // namespace vhostd::server
