// GET /status: the server, the front's counters and every site's pool as JSON
// (docs/status.md). Pure: snapshots in, JSON out.
#pragma once

#include "server/front_stats.hpp"
#include "supervisor/site_snapshot.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace vhostd::admin {

struct ServerInfo {
    std::string version;
    int pid = 0;
    double uptime_seconds = 0;
    std::string config_path;
    unsigned reloads = 0;
    unsigned threads = 0;
    std::size_t in_front = 0;
    std::size_t tls_relays = 0;  // TLS connections handed over and relayed now
    std::string upgrade;         // the last upgrade of this process: "", "starting pid N", "failed: …"
};

boost::json::object render_status(const ServerInfo& server, const server::FrontTotals& front,
                                  const std::vector<supervisor::SiteSnapshot>& sites);

}  // namespace vhostd::admin
