// GET /metrics: the same snapshots as /status in Prometheus' text exposition format
// (version 0.0.4): one HELP and TYPE line per metric, then all its samples. Pure.
#pragma once

#include "admin/status_json.hpp"

#include <string>

namespace vhostd::admin {

std::string render_metrics(const ServerInfo& server, const server::FrontTotals& front,
                           const std::vector<supervisor::SiteSnapshot>& sites, const CertificateReport& certificates = {});

}  // namespace vhostd::admin
