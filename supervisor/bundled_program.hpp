// The worker programs that ship with vhostd (vhostd-static, vhostd-upstream) are found
// beside the vhostd binary first, so a site can name them bare wherever vhostd is installed
// or built, without them being on PATH.
#pragma once

#include <string>

namespace vhostd::supervisor {

// "vhostd-static" becomes "/usr/bin/vhostd-static" when vhostd runs from /usr/bin and the
// file is there; every other program is returned as it is (execvpe searches PATH).
std::string bundled_program(const std::string& program);

}  // namespace vhostd::supervisor
