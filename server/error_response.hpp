// The short, complete HTTP/1.1 answers the front gives itself (DESIGN.md's table). Pure.
#pragma once

#include <string>

namespace vhostd::server {

// A response with "Connection: close", a one-line text body and, for 503, Retry-After.
std::string error_response(int status, int retry_after_seconds = 0);

}  // namespace vhostd::server
