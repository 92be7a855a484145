// The pool's counters and processes at one moment, for the admin endpoint.
#include "supervisor/site_pool.hpp"

#include <algorithm>

namespace vhostd::supervisor {

SiteSnapshot SitePool::snapshot() const {
    const auto now = host_.now();
    SiteSnapshot site;
    site.name = site_.name;
    site.hosts = site_.hosts;
    site.is_default = site_.is_default;
    site.min_workers = site_.min_workers;
    site.max_workers = site_.max_workers;
    site.stopped = paused_;
    if (const auto until = restart_policy_.quarantined_until()) {
        site.quarantined = true;
        site.quarantine_seconds_left = std::chrono::duration<double>(*until - now).count();
    }
    site.handed_off = handed_off_;
    site.answered_503 = answered_503_;
    site.queue_length = waiting_.size();
    site.handoff_latency = handoff_latency_;
    site.queue_wait = queue_wait_;
    site.requests = requests_of_exited_;
    for (const RestartReason reason : all_restart_reasons) site.restarts[std::string(to_string(reason))] = 0;
    for (const auto& [reason, count] : restarts_) site.restarts[std::string(to_string(reason))] = count;
    for (const char* state : {"starting", "ready", "draining", "stopping"}) site.workers_by_state[state] = 0;
    if (roll_total_ > 0) {
        site.roll_of = roll_total_;
        site.roll_replaced = roll_total_ - static_cast<unsigned>(std::min<std::size_t>(still_to_replace_count(), roll_total_));
        site.roll_problem = roll_problem_;
    }
    auto describe_process = [&](const Worker& process) {
        const protocol::Heartbeat& heartbeat = process.last_heartbeat();
        return WorkerSnapshot{
            .pid = process.pid(),
            .slot = process.slot(),
            .generation = process.generation(),
            .state = to_string(process.state()),
            .retiring = process.retiring() ? process.retire_reason() : "",
            .uptime_seconds = std::chrono::duration<double>(now - process.started_at()).count(),
            .rss_bytes = read_rss_bytes(process.pid()),
            .cpu_seconds = read_cpu_seconds(process.pid()),
            .active_connections = heartbeat.active_connections,
            .requests = heartbeat.requests,
            .websockets = heartbeat.websockets,
        };
    };
    site.has_singleton = site_.singleton.has_value();
    if (singleton_) site.singleton = describe_process(*singleton_);
    site.singleton_failures = singleton_failures_;
    site.messages_delivered = bus_.delivered();
    site.messages_undeliverable = bus_.undeliverable();
    site.app_messages_dropped = bus_.app_messages_dropped();
    site.tasks_run = tasks_run_;
    site.tasks_skipped = tasks_skipped_;
    for (const auto& worker : workers_) {
        const protocol::Heartbeat& heartbeat = worker->last_heartbeat();
        site.requests += heartbeat.requests;
        site.active_connections += heartbeat.active_connections;
        site.websockets += heartbeat.websockets;
        ++site.workers_by_state[to_string(worker->state())];
        site.workers.push_back(describe_process(*worker));
    }
    return site;
}

}  // namespace vhostd::supervisor
