// GET /status: the server, the front's counters and every site's pool as JSON
// (docs/status.md). Pure: snapshots in, JSON out.
#pragma once

#include "acme/certificate_manager.hpp"
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

// The certificates of tls = "auto" sites, as the manager reports them, at `now`.
struct CertificateReport {
    std::vector<acme::CertificateStatus> certificates;
    acme::CertificateCounters counters;
    acme::Clock::time_point now = acme::Clock::now();
};

// One word for a certificate: "valid", "renewing", "obtaining", "retrying" (the last attempt
// failed; one is still served if not_after says so), "expired", "pending" (none yet).
std::string certificate_state(const acme::CertificateStatus& certificate, acme::Clock::time_point now);

boost::json::object render_status(const ServerInfo& server, const server::FrontTotals& front,
                                  const std::vector<supervisor::SiteSnapshot>& sites, const CertificateReport& certificates = {});

}  // namespace vhostd::admin
