// Reading one cookie out of a request head (RFC 6265 §4.2.1, §5.4), without allocating: the
// front picks a worker by it (session affinity), before any worker has read the head.
#pragma once

#include <optional>
#include <string_view>

namespace vhostd::http {

// The value of the first cookie called `name` (case-sensitive) in the head's Cookie fields,
// in the order they were sent, with the optional double quotes around it taken off. nullopt
// when there is none or its value is empty. `head` is a request head that
// parse_request_head accepted: lines end with CRLF and no field is folded.
std::optional<std::string_view> cookie_value(std::string_view head, std::string_view name);

}  // namespace vhostd::http
