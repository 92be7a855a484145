// The pool's connections: handing each to a worker (worker_choice.hpp), or to its slot's
// worker when the site has affinity (affinity.hpp); waiting in the queue
// (connection_queue.hpp) while none can take it, handing again what a worker refused, and
// the 503 when none will.
#include "accesslog/access_log.hpp"
#include "supervisor/affinity.hpp"
#include "supervisor/site_pool.hpp"
#include "supervisor/worker_choice.hpp"

#include <spdlog/spdlog.h>

#include <bitset>

namespace vhostd::supervisor {

using protocol::PendingConnection;

namespace {

// Handed at most this many times, so that a descriptor no worker can take ends in a 503
// rather than a loop.
constexpr unsigned max_refusals = 3;

}  // namespace

std::optional<unsigned> SitePool::slot_of(const PendingConnection& connection) const {
    // A key from before a reload that turned affinity off counts no more.
    if (!connection.affinity_key || site_.affinity.by == conf::Affinity::By::none) return std::nullopt;
    return affinity_slot(*connection.affinity_key, site_.max_workers);
}

bool SitePool::try_hand(PendingConnection& connection) {
    const auto now = host_.now();
    const std::optional<unsigned> slot = slot_of(connection);
    std::vector<bool> failed;  // allocated only when a send fails
    for (std::size_t attempt = 0; attempt < workers_.size(); ++attempt) {
        const std::size_t best = choose_worker(workers_.size(), round_robin_, [&](std::size_t i) {
            const Worker& candidate = *workers_[i];
            return WorkerCandidate{
                .usable = candidate.available(site_.max_in_flight) && (!slot || candidate.slot() == *slot) &&
                          (failed.empty() || !failed[i]),
                .refused_it = candidate.pid() == connection.refused_by,
                .load = candidate.load(),
            };
        });
        if (best == workers_.size()) return false;
        Worker& worker = *workers_[best];
        const auto accepted_at = connection.accepted_at;
        // The connection moves into the worker's in-flight list: keep what the log needs.
        const bool first_time = !connection.handed_before;
        const std::optional<protocol::ConnectionInfo> logged =
            first_time && accesslog::enabled() ? std::optional(connection.info) : std::nullopt;
        const boost::system::error_code ec = worker.hand(connection, now);
        if (!ec) {
            const auto latency = host_.now() - accepted_at;
            if (first_time) {
                handoff_latency_.record(latency);
                ++handed_off_;
            }
            if (logged) {
                accesslog::write({logged->remote_address, logged->remote_port, logged->host, site_.name, worker.pid(), "handed",
                                  std::chrono::duration<double, std::micro>(latency).count()});
            }
            round_robin_ = best + 1;
            return true;
        }
        spdlog::warn("{}: could not hand connection {}: {}", describe(worker), connection.info.id, ec.message());
        if (failed.empty()) failed.resize(workers_.size());
        failed[best] = true;
    }
    return false;
}

// The fd never reached the worker, so nothing read it: vhostd's copy can go to a worker
// again, a few times, before the client gets a 503 rather than a loop.
void SitePool::on_refused(const Worker& worker, PendingConnection connection, Clock::time_point now) {
    spdlog::warn("{}: did not receive connection {} (NODE_HANDLE_NACK; out of file descriptors?)", describe(worker),
                 connection.info.id);
    connection.handed_before = true;
    connection.refused_by = worker.pid();
    if (++connection.refusals >= max_refusals) {
        reject(std::move(connection), 1, RejectReason::refused_too_often);
        return;
    }
    waiting_.push_front(std::move(connection), now, site_.queue_timeout);
    if (waiting_.size() == 1) arm_queue_timer();
    hand_waiting();
}

void SitePool::dispatch(PendingConnection connection) {
    if (stopping_ || paused_) {
        reject(std::move(connection), 1, stopping_ ? RejectReason::stopping : RejectReason::paused);
        return;
    }
    const bool affinity = site_.affinity.by != conf::Affinity::By::none;
    if (affinity) {
        // A passthrough connection's head is a ClientHello: no cookie to read in it.
        const bool http_head = !(connection.info.tls && connection.info.tls->passthrough);
        connection.affinity_key = affinity_key(site_.affinity, connection.info.remote_address,
                                               http_head ? std::string_view(connection.head) : std::string_view());
    }
    // With affinity those waiting wait for their slots' workers, which are busy (or they
    // would have been handed), so a connection may go ahead of them if its worker is free.
    if ((waiting_.empty() || affinity) && try_hand(connection)) return;
    const auto now = host_.now();
    if (restart_policy_.quarantined() && !has_live_worker()) {
        reject(std::move(connection), restart_policy_.retry_after_seconds(now), RejectReason::quarantined);
        return;
    }
    if (waiting_.size() >= site_.queue_size) {
        reject(std::move(connection), 1, RejectReason::queue_full);
        return;
    }
    waiting_.push_back(std::move(connection), now, site_.queue_timeout);
    if (waiting_.size() == 1) arm_queue_timer();
    reconcile(now);  // an on-demand site may start a worker for it
}

// Oldest first. One that waits for its slot's busy worker must not hold up those behind it;
// one any worker could take, and none did, ends the pass.
void SitePool::hand_waiting() {
    std::bitset<conf::max_pool_size> busy_slots;
    for (std::size_t i = 0; i < waiting_.size();) {
        const std::optional<unsigned> slot = slot_of(waiting_.at(i).connection);
        if (!(slot && busy_slots[*slot]) && try_hand(waiting_.at(i).connection)) {
            queue_wait_.record(host_.now() - waiting_.take(i).since);
            continue;
        }
        if (!slot) break;
        busy_slots[*slot] = true;
        ++i;
    }
    reject_waiting_if_down();
    arm_queue_timer();
}

void SitePool::reject_waiting_if_down() {
    const bool quarantined = restart_policy_.quarantined() && !has_live_worker();
    if (!stopping_ && !paused_ && !quarantined) return;
    const RejectReason why = stopping_ ? RejectReason::stopping : paused_ ? RejectReason::paused : RejectReason::quarantined;
    const int retry_after = restart_policy_.retry_after_seconds(host_.now());
    while (!waiting_.empty()) reject(std::move(waiting_.pop_front().connection), retry_after, why);
}

void SitePool::arm_queue_timer() {
    const auto deadline = waiting_.next_deadline();
    if (!deadline) {
        queue_timer_.cancel();
        return;
    }
    queue_timer_.expires_at(*deadline);
    queue_timer_.async_wait([this, alive = std::weak_ptr<void>(alive_)](boost::system::error_code ec) {
        if (!ec && !alive.expired()) expire_waiting();
    });
}

void SitePool::expire_waiting() {
    const auto now = host_.now();
    bool expired = false;
    while (auto waiting = waiting_.pop_expired(now)) {
        reject(std::move(waiting->connection), 1, RejectReason::queue_timeout);
        expired = true;
    }
    if (expired) arm_queue_timer();
}

void SitePool::reject(PendingConnection connection, int retry_after, RejectReason reason) {
    if (stopping_ && successor_ && successor_(connection)) {
        spdlog::debug("site {}: connection {} went to the new vhostd", site_.name, connection.info.id);
        return;
    }
    const char* why = to_string(reason);
    ++answered_503_;
    accesslog::write({connection.info.remote_address, connection.info.remote_port, connection.info.host, site_.name, 0, "503", 0});
    spdlog::warn("site {}: 503 to {}:{} (connection {}): {}", site_.name, connection.info.remote_address,
                 connection.info.remote_port, connection.info.id, why);
    connection.reject(std::move(connection.socket), retry_after, why);
}

}  // namespace vhostd::supervisor
