#include "server/front_stats.hpp"

#include <algorithm>

namespace vhostd::server {

void FrontStats::answered(int status) {
    const auto at = std::find(front_statuses.begin(), front_statuses.end(), status);
    if (at != front_statuses.end()) answered_[static_cast<std::size_t>(at - front_statuses.begin())].fetch_add(1, std::memory_order_relaxed);
}

void FrontStats::routed(const std::string& site, bool websocket) {
    SiteCounters* counters;
    {
        std::lock_guard lock(sites_mutex_);
        auto& slot = sites_[site];
        if (!slot) slot = std::make_unique<SiteCounters>();
        counters = slot.get();  // stable: entries are never removed
    }
    counters->connections.fetch_add(1, std::memory_order_relaxed);
    if (websocket) counters->websocket_upgrades.fetch_add(1, std::memory_order_relaxed);
}

void FrontStats::add_to(FrontTotals& totals) {
    totals.accepted += accepted_.load(std::memory_order_relaxed);
    totals.closed_without_answer += closed_.load(std::memory_order_relaxed);
    totals.tls_handshake_failures += tls_failed_.load(std::memory_order_relaxed);
    totals.tls_handshakes_dropped += tls_dropped_.load(std::memory_order_relaxed);
    totals.refused_over_limit += refused_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < front_statuses.size(); ++i) totals.answered[front_statuses[i]] += answered_[i].load(std::memory_order_relaxed);
    std::lock_guard lock(sites_mutex_);
    for (const auto& [name, counters] : sites_) {
        SiteFrontTotals& site = totals.sites[name];
        site.connections += counters->connections.load(std::memory_order_relaxed);
        site.websocket_upgrades += counters->websocket_upgrades.load(std::memory_order_relaxed);
    }
}

}  // namespace vhostd::server
