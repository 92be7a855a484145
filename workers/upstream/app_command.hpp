// The command line of the app that vhostd-upstream starts. Pure: no I/O.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace vhostd::upstream {

// Replaces "$NAME" and "${NAME}" for each given name in every argument ("127.0.0.1:$PORT");
// other '$' text is left alone, since no shell is involved.
std::vector<std::string> expand_placeholders(const std::vector<std::string>& arguments,
                                             const std::map<std::string, std::string>& values);

}  // namespace vhostd::upstream
