// The whole environment a site's process starts with. Pure: the base (vhostd's own
// environment, from inherited_environment()) is passed in. Over it, in order: the site's env,
// the singleton's env for the singleton, then what vhostd sets itself — the VHOSTD_*
// variables of protocol/environment.hpp, Node's IPC variables for a Node runtime, and the
// certificate and key paths for a TLS passthrough site.
#pragma once

#include "conf/config.hpp"

#include <map>
#include <string>
#include <vector>

namespace vhostd::supervisor {

using EnvironmentVariables = std::map<std::string, std::string>;

struct ProcessRole {
    unsigned slot = 0;
    unsigned generation = 1;
    bool singleton = false;
};

// "NAME=value" entries, sorted by name.
std::vector<std::string> worker_environment(const conf::Site& site, const ProcessRole& role, EnvironmentVariables base);

// vhostd's own environment (`environ`), by name.
EnvironmentVariables inherited_environment();

}  // namespace vhostd::supervisor
