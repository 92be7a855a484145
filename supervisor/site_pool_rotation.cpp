// The pool's watch over running workers: start, drain and kill timeouts, silence, and their
// replacement when old (max_age, with jitter), fat, worn (max_requests) or idle — one at a
// time, the replacement ready before the old one drains.
#include "supervisor/site_pool.hpp"

#include <spdlog/spdlog.h>

namespace vhostd::supervisor {

void SitePool::check_timeouts(Worker& process, Clock::time_point now, bool sample_memory) {
    switch (process.state()) {
        case WorkerState::starting:
            if (now >= process.deadline()) apply(process, WorkerEvent::start_timed_out, now);
            break;
        case WorkerState::ready:
            if (now - process.last_heard() >= site_.heartbeat_timeout) {
                apply(process, WorkerEvent::went_silent, now);
            } else if (!process.is_singleton()) {  // a singleton is never rotated
                check_retirement(process, now, sample_memory);
            }
            break;
        case WorkerState::draining:
            if (now >= process.deadline()) {
                apply(process, WorkerEvent::drain_timed_out, now);
            } else if (now - process.last_heard() >= site_.heartbeat_timeout) {
                apply(process, WorkerEvent::went_silent, now);
            }
            break;
        case WorkerState::stopping:
            if (now >= process.deadline()) apply(process, WorkerEvent::kill_timed_out, now);
            break;
        case WorkerState::exited: break;
    }
}

Clock::time_point SitePool::rotation_time(Clock::time_point started_at) {
    if (site_.max_age.count() == 0) return Clock::time_point::max();
    // Up to 10% earlier, so that workers started together do not all rotate together.
    std::uniform_real_distribution<double> share(0.9, 1.0);
    return started_at + std::chrono::duration_cast<Clock::duration>(site_.max_age * share(jitter_));
}

// Retiring workers normally drain one per replacement that says ready. When fewer
// replacements are coming than workers retire (max_workers lowered, idle shrink), the
// surplus drains now — as long as some other worker is ready to take the traffic.
void SitePool::drain_surplus_retiring(Clock::time_point now) {
    std::size_t replacements_coming = serving_count() < target_ ? target_ - serving_count() : 0;
    std::size_t ready_replacements = 0;
    std::vector<Worker*> retiring_ready;
    for (const auto& worker : workers_) {
        if (worker->state() == WorkerState::starting && !worker->retiring()) {
            ++replacements_coming;
        } else if (worker->state() == WorkerState::ready && worker->retiring()) {
            retiring_ready.push_back(worker.get());
        } else if (worker->state() == WorkerState::ready) {
            ++ready_replacements;
        }
    }
    for (std::size_t i = 0; ready_replacements > 0 && retiring_ready.size() - i > replacements_coming; ++i) {
        apply(*retiring_ready[i], WorkerEvent::retire, now);
    }
}

void SitePool::check_retirement(Worker& worker, Clock::time_point now, bool sample_memory) {
    if (sample_memory) worker.set_rss_bytes(read_rss_bytes(worker.pid()));
    if (worker.retiring() || stopping_) return;
    const char* reason = nullptr;
    RestartReason counted_as{};
    if (now >= worker.rotate_at()) {
        reason = "max_age reached";
        counted_as = RestartReason::age;
    } else if (site_.max_memory > 0 && worker.rss_bytes() > site_.max_memory) {
        reason = "max_memory exceeded";
        counted_as = RestartReason::memory;
    } else if (site_.max_requests > 0 && worker.last_heartbeat().requests >= site_.max_requests) {
        reason = "max_requests reached";
        counted_as = RestartReason::requests;
    } else if (ready_serving_count() > site_.min_workers && worker.load() == 0 && now - worker.last_busy() >= site_.idle_timeout) {
        // Idle above the minimum: shrink instead of replacing.
        --target_;
        worker.mark_retiring("idle_timeout");
        ++restarts_[RestartReason::idle];
        apply(worker, WorkerEvent::retire, now);
        return;
    }
    if (reason == nullptr) return;
    spdlog::info("{}: {}; starting its replacement", describe(worker), reason);
    worker.mark_retiring(reason);  // the replacement comes from reconcile(); it drains when that one is ready
    ++restarts_[counted_as];
}

// A new worker is ready: the oldest worker waiting for its replacement can go.
void SitePool::drain_one_retiring(Clock::time_point now) {
    for (const auto& worker : workers_) {
        if (worker->retiring() && worker->state() == WorkerState::ready) {
            apply(*worker, WorkerEvent::retire, now);
            return;
        }
    }
}

}  // namespace vhostd::supervisor
