// A copy of a site's pool and counters at one moment, for the admin endpoint. Plain data.
#pragma once

#include "supervisor/latency_histogram.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vhostd::supervisor {

struct WorkerSnapshot {
    int pid = 0;
    unsigned slot = 0;
    unsigned generation = 0;
    std::string state;
    std::string retiring;  // why it is being replaced; empty if it is not
    double uptime_seconds = 0;
    std::uint64_t rss_bytes = 0;
    double cpu_seconds = 0;
    std::uint64_t active_connections = 0;
    std::uint64_t requests = 0;
    std::uint64_t websockets = 0;
};

struct SiteSnapshot {
    std::string name;
    std::vector<std::string> hosts;
    bool is_default = false;
    unsigned min_workers = 0;
    unsigned max_workers = 0;
    bool stopped = false;  // by the admin endpoint
    bool quarantined = false;
    double quarantine_seconds_left = 0;
    std::uint64_t handed_off = 0;
    std::uint64_t answered_503 = 0;
    std::size_t queue_length = 0;
    LatencyHistogram handoff_latency;
    LatencyHistogram queue_wait;  // time connections waited in the site's queue
    std::uint64_t requests = 0;  // including workers that have exited
    std::uint64_t active_connections = 0;
    std::uint64_t websockets = 0;
    std::map<std::string, std::uint64_t> restarts;          // by to_string(RestartReason)
    std::map<std::string, std::uint64_t> workers_by_state;  // starting, ready, draining, stopping
    // A roll in progress (roll_of > 0): workers replaced of those marked for it, and why it
    // is stuck, if it is.
    unsigned roll_replaced = 0;
    unsigned roll_of = 0;
    std::string roll_problem;
    std::vector<WorkerSnapshot> workers;
    // The singleton, when the site has one: pid 0 while it is not running.
    bool has_singleton = false;
    WorkerSnapshot singleton;
    std::uint64_t singleton_failures = 0;
    std::uint64_t messages_delivered = 0;   // bus messages, replies and tasks passed on
    std::uint64_t messages_undeliverable = 0;
    std::uint64_t app_messages_dropped = 0;  // a worker's own messages with no singleton to take them
    std::uint64_t tasks_run = 0;
    std::uint64_t tasks_skipped = 0;
};

}  // namespace vhostd::supervisor
