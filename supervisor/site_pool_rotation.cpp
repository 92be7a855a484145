// The pool's watch over running workers: start, drain and kill timeouts, silence, and their
// replacement when old (max_age, with jitter), fat, worn (max_requests) or idle. Every
// replacement is paired with the worker it replaces and starts in its slot, at most
// max_surge at a time (reconcile() in site_pool.cpp); only that worker drains, once its
// replacement is ready.
#include "supervisor/pool_log.hpp"
#include "supervisor/site_pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <utility>

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

// Retiring workers normally drain when their replacement is ready. When fewer replacements
// are coming than workers wait for one (a reload to fewer workers), the surplus drains now,
// as long as a ready worker is left to take the traffic: one that waits for its
// replacement, or one that stays.
void SitePool::drain_surplus_retiring(Clock::time_point now) {
    std::vector<Worker*> awaiting = awaiting_replacement();
    const std::size_t serving = serving_count();
    const std::size_t coming = target_ > serving ? target_ - serving : 0;
    if (awaiting.size() <= coming || (coming == 0 && ready_serving_count() == 0)) return;
    // The highest slots go, so that the pool's slots stay 0 … N-1.
    std::sort(awaiting.begin(), awaiting.end(), [](const Worker* a, const Worker* b) { return a->slot() > b->slot(); });
    for (std::size_t i = 0; i < awaiting.size() - coming; ++i) apply(*awaiting[i], WorkerEvent::retire, now);
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
    spdlog::info("{}: {}; it serves until its replacement is ready", describe(worker), reason);
    retire_for_replacement(worker, reason, counted_as);
}

void SitePool::retire_for_replacement(Worker& worker, const char* why, RestartReason counted_as) {
    worker.mark_retiring(why);  // the replacement comes from reconcile()
    ++restarts_[counted_as];
    ++roll_total_;
}

bool SitePool::has_replacement(const Worker& retiring) const {
    return std::any_of(workers_.begin(), workers_.end(), [&](const auto& w) {
        return w->replaces() == retiring.pid() && w->live();
    });
}

namespace {

// Marked for replacement, and not draining yet: it still serves, or will once ready.
bool still_to_replace(const Worker& worker) {
    return worker.retiring() && worker.live();
}

}  // namespace

std::vector<Worker*> SitePool::awaiting_replacement() const {
    std::vector<Worker*> awaiting;
    for (const auto& worker : workers_) {
        if (still_to_replace(*worker) && !has_replacement(*worker)) awaiting.push_back(worker.get());
    }
    return awaiting;
}

std::size_t SitePool::still_to_replace_count() const {
    return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return still_to_replace(*w); }));
}

// A replacement is ready: the worker it was started for, and only that one, drains. The pair
// ends there, so that a later worker that gets the same pid is not taken for it.
void SitePool::retire_the_replaced(Worker& replacement, Clock::time_point now) {
    const pid_t replaced = std::exchange(replacement.replaces_pid(), 0);
    if (replaced == 0) return;
    roll_problem_.clear();
    for (const auto& worker : workers_) {
        if (worker->pid() != replaced) continue;
        if (still_to_replace(*worker)) apply(*worker, WorkerEvent::retire, now);
        return;
    }
}

// `gone` has exited. Its replacement, if it had one, is an ordinary worker now; and if it was
// a replacement that failed before it was ready, the roll stops there: the worker it was for
// keeps serving, and the next attempt waits for the restart policy.
void SitePool::unpair(const Worker& gone, bool failed, int wait_status) {
    for (const auto& worker : workers_) {
        if (worker->replaces() == gone.pid()) worker->replaces_pid() = 0;
    }
    if (gone.replaces() == 0 || !failed) return;
    for (const auto& worker : workers_) {
        if (worker->pid() != gone.replaces() || !still_to_replace(*worker)) continue;
        roll_problem_ = "the replacement of worker " + std::to_string(worker->slot()) + " (pid " + std::to_string(gone.pid()) +
                        ") " + describe_exit(wait_status) + " before it was ready; worker " + std::to_string(worker->slot()) +
                        " (pid " + std::to_string(worker->pid()) + ") keeps serving";
        spdlog::warn("site {}: roll stopped: {}", site_.name, roll_problem_);
        return;
    }
}

void SitePool::finish_roll_if_done() {
    if (roll_total_ == 0 || still_to_replace_count() > 0) return;
    if (stopping_ || paused_) {  // everything drains at once: no roll to report
        roll_total_ = 0;
        roll_problem_.clear();
        return;
    }
    spdlog::info("site {}: roll done: {} worker{} replaced", site_.name, roll_total_, roll_total_ == 1 ? "" : "s");
    roll_total_ = 0;
    roll_problem_.clear();
}

void SitePool::schedule_cron_restart(Clock::time_point now) {
    cron_restart_.clear();
    if (site_.cron_restart) cron_restart_.push_back({.name = "cron_restart", .every = {}, .cron = site_.cron_restart, .to = {}});
    cron_restart_schedule_.reset(cron_restart_, now, std::chrono::system_clock::now());
}

// PM2's cron_restart, done as vhostctl restart does it: a roll, max_surge at a time.
void SitePool::run_cron_restart(Clock::time_point now) {
    if (cron_restart_.empty() || !cron_restart_schedule_.is_due(0, now)) return;
    cron_restart_schedule_.advance(0, cron_restart_.front(), now, std::chrono::system_clock::now());
    if (stopping_ || paused_) return;
    spdlog::info("site {}: cron_restart \"{}\" is due", site_.name, site_.cron_restart->text());
    update(site_, true, RestartReason::cron);
}

}  // namespace vhostd::supervisor
