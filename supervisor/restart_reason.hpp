// Why a worker was replaced, as counted in the pool and shown by the admin endpoint. An enum,
// so that reasons compare by value; to_string gives the name the status shows.
#pragma once

#include <cstddef>
#include <iterator>
#include <string_view>

namespace vhostd::supervisor {

enum class RestartReason {
    crash,
    start_failure,
    hung,
    channel_lost,
    age,
    memory,
    requests,
    reload,
    idle,
    admin,
    watch,  // a watched file changed (dev mode)
    cron,   // cron_restart
    certificate,  // a passthrough site's tls = "auto" certificate was obtained or renewed
};

inline constexpr RestartReason all_restart_reasons[] = {
    RestartReason::crash, RestartReason::start_failure, RestartReason::hung,   RestartReason::channel_lost,
    RestartReason::age,   RestartReason::memory,        RestartReason::requests, RestartReason::reload,
    RestartReason::idle,  RestartReason::admin,         RestartReason::watch,    RestartReason::cron,
    RestartReason::certificate,
};

// The names, in the enum's order.
inline constexpr std::string_view restart_reason_names[] = {
    "crash", "start_failure", "hung", "channel_lost", "age", "memory", "requests", "reload", "idle", "admin", "watch", "cron", "certificate",
};
static_assert(std::size(restart_reason_names) == std::size(all_restart_reasons));

constexpr std::string_view to_string(RestartReason reason) { return restart_reason_names[static_cast<std::size_t>(reason)]; }

}  // namespace vhostd::supervisor
