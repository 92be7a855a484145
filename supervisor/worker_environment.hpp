// The whole environment a site's process starts with. Pure: the base (vhostd's own
// environment, from inherited_environment()) is passed in. Over it, in order: the site's env,
// the singleton's env for the singleton, then what vhostd sets itself — the VHOSTD_*
// variables of protocol/environment.hpp, Node's IPC variables for a Node runtime, and the
// certificate and key paths for a TLS passthrough site.
#pragma once

#include "conf/config.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vhostd::supervisor {

using EnvironmentVariables = std::map<std::string, std::string>;

struct ProcessRole {
    unsigned slot = 0;
    unsigned generation = 1;
    bool singleton = false;
};

// The front's head limits, which the workers learn so that theirs are at least as large.
struct FrontHeadLimits {
    std::size_t max_head_size = conf::ServerSettings{}.max_head_size;
    std::size_t max_header_fields = conf::ServerSettings{}.max_header_fields;
};

// "NAME=value" entries, sorted by name.
// `tls_ticket_key` (from new_tls_ticket_key()) goes to a passthrough site's workers.
std::vector<std::string> worker_environment(const conf::Site& site, const ProcessRole& role, EnvironmentVariables base,
                                            const FrontHeadLimits& head_limits = {}, std::string_view tls_ticket_key = {});

// A session ticket key for a site's workers (protocol::env_tls_ticket_key), from getrandom().
std::string new_tls_ticket_key();

// vhostd's own environment (`environ`), by name.
EnvironmentVariables inherited_environment();

}  // namespace vhostd::supervisor
