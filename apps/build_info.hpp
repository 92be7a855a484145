// What `vhostd --version` and `vhostctl --version` print: the version, the commit it was
// configured from, the compiler and build type, and the libraries it was built against.
#pragma once

#include <string>

namespace vhostd::apps {

extern const char* const version;

// Several lines, each ending in a newline, starting with "PROGRAM VERSION".
std::string build_info(const char* program);

}  // namespace vhostd::apps
