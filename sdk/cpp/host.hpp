// Host comparison for workers. A kept-alive connection belongs to the site the front routed
// its first request to; a later request on it for another host must get 421 (Misdirected
// Request), or one site's connection could be used to reach another site.
#pragma once

#include <string_view>

namespace vhostd::sdk {

// True when two Host values name the same host: case, a ":port" and one trailing dot are
// ignored, as the front ignores them when routing.
bool same_host(std::string_view a, std::string_view b);

}  // namespace vhostd::sdk
