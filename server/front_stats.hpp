// What the front counts, per front thread (summed when read), so the hot path only touches
// its own thread's cache lines: relaxed atomics, and a mutex taken for a map lookup.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vhostd::server {

// The statuses the front answers itself before a connection reaches a site's pool.
inline constexpr std::array<int, 11> front_statuses = {308, 400, 404, 408, 414, 421, 429, 431, 501, 503, 505};

struct SiteFrontTotals {
    std::uint64_t connections = 0;         // routed to the site
    std::uint64_t websocket_upgrades = 0;  // of those, asking for a WebSocket
};

struct FrontTotals {
    std::uint64_t accepted = 0;
    std::uint64_t closed_without_answer = 0;  // the client left, or never said a word
    std::uint64_t tls_handshake_failures = 0;  // of those, in a TLS handshake
    std::uint64_t tls_handshakes_dropped = 0;  // of those, the oldest in progress, past max_tls_handshakes
    std::uint64_t refused_over_limit = 0;     // closed at once: a cap on waiting or per-client connections
    std::map<int, std::uint64_t> answered;  // by status
    std::map<std::string, SiteFrontTotals> sites;
};

class FrontStats {
public:
    void accepted() { accepted_.fetch_add(1, std::memory_order_relaxed); }
    void closed_without_answer() { closed_.fetch_add(1, std::memory_order_relaxed); }
    void refused_over_limit() { refused_.fetch_add(1, std::memory_order_relaxed); }
    void tls_handshake_failed() {
        closed_without_answer();
        tls_failed_.fetch_add(1, std::memory_order_relaxed);
    }
    void tls_handshake_dropped() {
        tls_handshake_failed();
        tls_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
    void answered(int status);
    void routed(const std::string& site, bool websocket);

    // Adds this thread's counts to `totals`. Any thread.
    void add_to(FrontTotals& totals);

private:
    struct SiteCounters {
        std::atomic<std::uint64_t> connections{0};
        std::atomic<std::uint64_t> websocket_upgrades{0};
    };
    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::uint64_t> closed_{0};
    std::atomic<std::uint64_t> tls_failed_{0};
    std::atomic<std::uint64_t> tls_dropped_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::array<std::atomic<std::uint64_t>, front_statuses.size()> answered_{};
    std::mutex sites_mutex_;  // guards the map's shape only; the counters are atomics
    std::unordered_map<std::string, std::unique_ptr<SiteCounters>> sites_;
};

}  // namespace vhostd::server
