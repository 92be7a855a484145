// The pool's orchestration: its size, reloads, the admin controls, stopping, and the
// lifecycle table's actions. Connections are in site_pool_connections.cpp, processes in
// site_pool_processes.cpp, rotation and timeouts in site_pool_rotation.cpp, the singleton in
// site_pool_singleton.cpp, tasks and watched files in site_pool_tasks.cpp, the status in
// site_pool_snapshot.cpp.
#include "supervisor/site_pool.hpp"

#include "protocol/message.hpp"
#include "supervisor/pool_log.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bitset>
#include <csignal>

namespace vhostd::supervisor {

using namespace std::chrono_literals;

SitePool::SitePool(Strand strand, ProcessHost& host, conf::Site site, std::shared_ptr<spdlog::logger> site_log,
                   FrontHeadLimits head_limits)
    : strand_(strand),
      host_(host),
      site_(std::move(site)),
      head_limits_(head_limits),
      site_log_(std::move(site_log)),
      target_(site_.min_workers),
      queue_timer_(strand),
      spawn_timer_(strand),
      singleton_timer_(strand),
      bus_(site_.name) {}

std::string SitePool::describe(const Worker& worker) const {
    if (worker.is_singleton()) return "site " + site_.name + " singleton (pid " + std::to_string(worker.pid()) + ")";
    return "site " + site_.name + " worker " + std::to_string(worker.slot()) + " (pid " + std::to_string(worker.pid()) + ")";
}

void SitePool::start() {
    const auto now = host_.now();
    task_schedule_.reset(site_.tasks, now, std::chrono::system_clock::now());
    schedule_cron_restart(now);
    watch_files();
    if (site_.singleton) spawn_singleton(now);
    reconcile(now);
}

std::size_t SitePool::serving_count() const {
    return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return w->serving(); }));
}

std::size_t SitePool::ready_serving_count() const {
    return static_cast<std::size_t>(
        std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return w->serving() && w->state() == WorkerState::ready; }));
}

bool SitePool::has_live_worker() const {
    return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->live(); });
}

// A slot is taken while a worker in it serves, retiring or not: a retiring worker's slot is
// kept for its replacement.
bool SitePool::slot_taken(unsigned slot) const {
    return std::any_of(workers_.begin(), workers_.end(), [slot](const auto& w) { return w->live() && w->slot() == slot; });
}

unsigned SitePool::free_slot() const {
    unsigned slot = 0;
    while (slot_taken(slot)) ++slot;
    return slot;
}

SitePool::QueueNeeds SitePool::queue_needs() const {
    if (site_.affinity.by == conf::Affinity::By::none) return {.slot_without_worker = std::nullopt, .keyless = !waiting_.empty()};
    std::bitset<conf::max_pool_size> taken;
    for (const auto& worker : workers_) {
        if (worker->live() && worker->slot() < taken.size()) taken[worker->slot()] = true;
    }
    QueueNeeds needs;
    for (const ConnectionQueue::Waiting& waiting : waiting_) {
        const std::optional<unsigned> slot = slot_of(waiting.connection);
        if (!slot) {
            needs.keyless = true;
        } else if (!taken[*slot] && !needs.slot_without_worker) {
            needs.slot_without_worker = slot;
        }
        if (needs.keyless && needs.slot_without_worker) break;
    }
    return needs;
}

unsigned SitePool::slot_to_fill() const {
    return queue_needs().slot_without_worker.value_or(free_slot());
}

// Brings the pool to its size: spawns what is missing unless backing off or quarantined,
// and grows an on-demand pool while connections wait.
void SitePool::reconcile(Clock::time_point now) {
    if (stopping_ || paused_) return;
    // Workers may count on the singleton from their first moment: it comes first.
    if (site_.singleton && !singleton_was_ready_) return;
    if (restart_policy_.quarantined()) {
        if (!restart_policy_.end_quarantine_if_over(now)) return;
        spdlog::info("site {}: quarantine over; starting workers again", site_.name);
    }
    const bool anyone_starting = std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->state() == WorkerState::starting; });
    // An on-demand pool grows while connections wait: one worker at a time for those any
    // worker may take, and at once for a slot that a connection waits for and that has no
    // worker (affinity). One waiting for its slot's busy worker gains nothing from another.
    const QueueNeeds needs = queue_needs();
    if ((needs.slot_without_worker || (needs.keyless && !anyone_starting)) && target_ < site_.max_workers) ++target_;
    target_ = std::clamp(target_, site_.min_workers, site_.max_workers);

    std::size_t serving = serving_count();
    std::vector<Worker*> awaiting = awaiting_replacement();
    // Lowest slots first: after a reload to fewer workers, 0 … N-1 are the slots filled.
    std::stable_sort(awaiting.begin(), awaiting.end(), [](const Worker* a, const Worker* b) { return a->slot() < b->slot(); });
    bool backing_off = false;
    // A pool of N never runs more than N + max_surge processes, draining ones included.
    const auto room = [&] { return workers_.size() < target_ + site_.max_surge; };
    // Slots without a worker (a crash, a growing pool) get one first...
    std::size_t missing = target_ > serving + awaiting.size() ? target_ - serving - awaiting.size() : 0;
    for (; missing > 0 && room() && !(backing_off = !restart_policy_.may_start(now)); --missing, ++serving) spawn(now, slot_to_fill());
    // ...then retiring workers their replacements, in their own slots.
    for (Worker* retiring : awaiting) {
        if (backing_off || serving >= target_ || !room()) break;
        if ((backing_off = !restart_policy_.may_start(now))) break;
        const unsigned slot = retiring->slot() < site_.max_workers ? retiring->slot() : slot_to_fill();
        if (slot >= site_.max_workers) break;  // surplus: drain_surplus_retiring() drains it
        spawn(now, slot, retiring->pid());
        ++serving;
    }
    if (backing_off && !restart_policy_.quarantined()) {
        // Backing off: come back when the delay ends rather than at the next tick.
        spawn_timer_.expires_at(restart_policy_.next_start_at());
        spawn_timer_.async_wait([this, alive = std::weak_ptr<void>(alive_)](boost::system::error_code ec) {
            if (!ec && !alive.expired()) reconcile(host_.now());
        });
    }
}

void SitePool::apply(Worker& worker, WorkerEvent event, Clock::time_point now) {
    const WorkerState before = worker.state();
    const WorkerTransition step = worker.apply(event);
    const bool noteworthy = step.next != before || step.action != WorkerAction::none;
    if (noteworthy && event != WorkerEvent::said_ready && event != WorkerEvent::exited) {
        const bool bad = step.failure || step.action == WorkerAction::send_sigkill;
        spdlog::log(bad ? spdlog::level::warn : spdlog::level::info, "{}: {} -> {} ({})", describe(worker), to_string(before),
                    to_string(step.next), event == WorkerEvent::retire && worker.retire_reason() ? worker.retire_reason() : to_string(event));
    }
    switch (step.action) {
        case WorkerAction::none: break;
        case WorkerAction::send_drain:
            worker.channel().send(protocol::encode_command(protocol::command::drain));
            worker.set_deadline(now + site_.drain_timeout);
            break;
        case WorkerAction::send_sigterm:
            host_.signal(worker.process(), SIGTERM);
            worker.set_deadline(now + site_.kill_timeout);
            break;
        case WorkerAction::send_sigkill:
            host_.signal(worker.process(), SIGKILL);
            worker.set_deadline(Clock::time_point::max());
            break;
    }
    if (step.failure) worker.note_failure();
    if (step.failure && worker.is_singleton()) return;  // counted when it exits (on_singleton_exit)
    if (step.failure) {
        ++restarts_[event == WorkerEvent::start_timed_out ? RestartReason::start_failure
                    : event == WorkerEvent::went_silent   ? RestartReason::hung
                    : event == WorkerEvent::channel_lost  ? RestartReason::channel_lost
                                                          : RestartReason::crash];
        record_failure(now, now - worker.started_at());
    }
}

void SitePool::record_failure(Clock::time_point now, Clock::duration ran_for) {
    const RestartPolicy::Failure failure = restart_policy_.record_failure(now, ran_for, site_.restart_backoff, site_.restart_limit);
    if (failure.quarantine_began) {
        spdlog::error("site {}: quarantined for {} ms after {} unexpected exits within {} ms; its requests get 503 meanwhile",
                      site_.name, milliseconds(site_.restart_limit.cooldown), restart_policy_.recent_failures(),
                      milliseconds(site_.restart_limit.window));
        hand_waiting();
        return;
    }
    if (!stopping_) spdlog::info("site {}: next worker start in {} ms", site_.name, milliseconds(failure.delay));
}

void SitePool::tick(Clock::time_point now, bool sample_memory) {
    // Over a copy: an event handled here may lead to a spawn, which adds to workers_.
    for (const auto& worker : std::vector(workers_)) check_timeouts(*worker, now, sample_memory);
    if (const auto singleton = singleton_) check_timeouts(*singleton, now, false);
    bus_.expire(now);
    run_due_tasks(now);
    run_cron_restart(now);
    expire_waiting();
    reconcile(now);
    drain_surplus_retiring(now);
    finish_roll_if_done();
}

void SitePool::update(conf::Site site, bool replace_workers, RestartReason counted_as) {
    const auto now = host_.now();
    const bool new_max_age = site.max_age != site_.max_age;
    // Whatever rolls the workers rolls the singleton too (it shares their env, cwd, user and
    // limits), and so does a change of its own settings.
    const bool new_singleton = site.singleton != site_.singleton || replace_workers;
    const bool new_tasks = site.tasks != site_.tasks;
    const bool new_watch = site.watch != site_.watch || site.watch_debounce != site_.watch_debounce;
    const bool new_cron_restart = site.cron_restart != site_.cron_restart;
    site_ = std::move(site);
    if (new_tasks) task_schedule_.reset(site_.tasks, now, std::chrono::system_clock::now());
    if (new_cron_restart) schedule_cron_restart(now);
    if (new_watch) watch_files();
    if (!site_.singleton) bus_.fail_waiting_calls("the site has no singleton running");
    if (new_singleton) {
        // The running one drains; its exit starts the new one (or none, if it was removed).
        if (singleton_ && singleton_->live()) {
            apply(*singleton_, WorkerEvent::retire, now);
        } else if (!singleton_ && site_.singleton) {
            spawn_singleton(now);
        }
        // New workers wait for the new singleton; the running ones serve meanwhile.
        singleton_was_ready_ = false;
    }
    target_ = std::clamp(target_, site_.min_workers, site_.max_workers);
    if (new_max_age) {
        for (const auto& worker : workers_) worker->set_rotate_at(rotation_time(worker->started_at()));
    }
    if (replace_workers) {
        ++generation_;
        const char* why = counted_as == RestartReason::admin   ? "restarted by the admin endpoint"
                          : counted_as == RestartReason::watch ? "watched files changed"
                          : counted_as == RestartReason::cron  ? "cron_restart"
                          : counted_as == RestartReason::certificate ? "its certificate changed"
                                                               : "configuration changed";
        for (const auto& worker : workers_) {
            if (worker->serving()) retire_for_replacement(*worker, why, counted_as);
        }
        spdlog::info("site {}: rolling its workers to generation {}, {} at a time", site_.name, generation_, site_.max_surge);
    }
    // Fewer workers allowed than run, or in slots past max_workers (an on-demand pool's slots
    // may have gaps): the highest slots go, so that the slots are 0 … N-1, which affinity
    // hashes onto; reconcile() fills a gap left below.
    std::vector<Worker*> by_slot;
    for (const auto& worker : workers_) {
        if (worker->serving()) by_slot.push_back(worker.get());
    }
    std::sort(by_slot.begin(), by_slot.end(), [](const Worker* a, const Worker* b) { return a->slot() > b->slot(); });
    std::size_t serving = by_slot.size();
    for (Worker* worker : by_slot) {
        if (worker->slot() < site_.max_workers && serving <= site_.max_workers) break;
        worker->mark_retiring("max_workers lowered");
        apply(*worker, WorkerEvent::retire, now);
        --serving;
    }
    reconcile(now);
    if (!waiting_.empty()) hand_waiting();  // the slots or the limits they wait for may have changed
}

void SitePool::pause() {
    if (paused_ || stopping_) return;
    paused_ = true;
    const auto now = host_.now();
    target_ = 0;
    spdlog::info("site {}: stopped by the admin endpoint; its requests get 503", site_.name);
    for (const auto& worker : std::vector(workers_)) {
        if (worker->state() != WorkerState::starting && worker->state() != WorkerState::ready) continue;
        if (!worker->retiring()) worker->mark_retiring("stopped by the admin endpoint");
        apply(*worker, WorkerEvent::retire, now);
    }
    hand_waiting();
}

void SitePool::resume() {
    if (!paused_) return;
    paused_ = false;
    target_ = site_.min_workers;
    spdlog::info("site {}: started by the admin endpoint", site_.name);
    reconcile(host_.now());
}

void SitePool::restart() { update(site_, true, RestartReason::admin); }

void SitePool::stop(std::function<void()> done) {
    hand_waiting();  // last chance for connections already waiting, before workers stop taking them
    stopping_ = true;
    on_stopped_ = std::move(done);
    bus_.fail_waiting_calls("vhostd is stopping");
    const auto now = host_.now();
    for (const auto& worker : std::vector(workers_)) {
        if (!worker->retiring()) worker->mark_retiring("vhostd is stopping");
        apply(*worker, WorkerEvent::retire, now);
    }
    hand_waiting();
    check_stopped();
}

void SitePool::check_stopped() {
    if (!stopping_ || !on_stopped_ || !workers_.empty()) return;
    // The singleton goes last: workers may call it while they drain.
    singleton_timer_.cancel();
    if (singleton_) {
        if (singleton_->live()) {
            apply(*singleton_, WorkerEvent::retire, host_.now());
        }
        return;
    }
    queue_timer_.cancel();
    spawn_timer_.cancel();
    std::exchange(on_stopped_, nullptr)();
}

}  // namespace vhostd::supervisor
