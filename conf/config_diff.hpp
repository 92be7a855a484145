// What a reload changes: the old and the new Config compared, with no I/O, so the supervisor
// and the front can apply just the difference.
#pragma once

#include "conf/config.hpp"

#include <string>
#include <vector>

namespace vhostd::conf {

struct ConfigDiff {
    // Site names, each in at most one list. Added, restarted and updated keep the new
    // config's order; removed keeps the old one's.
    std::vector<std::string> added_sites;
    std::vector<std::string> removed_sites;
    // Something a running worker was started with changed (command, cwd, env, user, group,
    // limits, heartbeat_timeout): its workers must be replaced. Takes precedence over updated.
    std::vector<std::string> restarted_sites;
    // Only settings that apply without new processes changed (hosts, default, pool sizes,
    // the other timeouts, rotation and restart limits, the front's limits).
    std::vector<std::string> updated_sites;
    // Matched by endpoint (address bytes and port) and tls, not by the text written; each
    // listener of one side matches at most one of the other.
    std::vector<Listener> added_listeners;
    std::vector<Listener> removed_listeners;
    bool server_changed = false;  // [server] differs
    bool admin_changed = false;   // [admin] differs, appeared or went away
    bool acme_changed = false;    // [acme] differs

    // Nothing changed at all. The order of sites or listeners, and the file's path, are not
    // changes on their own.
    bool empty() const;
};

ConfigDiff diff_configs(const Config& before, const Config& after);

}  // namespace vhostd::conf
