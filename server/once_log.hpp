// A failure on the hot path that leaves the connection usable (a socket option that did not
// take, say) is worth one log line with its errno, not one per connection: each call site
// owns a OnceLog and reports through it.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstring>
#include <string_view>

namespace vhostd::server {

class OnceLog {
public:
    // Logs the first failure of this call site, with `error` (an errno value); the front
    // threads may race here, and exactly one of them logs.
    void warn(std::string_view call, int error) {
        if (logged_.exchange(true, std::memory_order_relaxed)) return;
        spdlog::warn("{} failed: {} (logged once; later failures of this call are not)", call, std::strerror(error));
    }

private:
    std::atomic<bool> logged_{false};
};

}  // namespace vhostd::server
