// The pool's side work: the processes the site bus reaches, tasks sent on their schedule
// (task_schedule.hpp) to a ready worker or the singleton, and dev mode's watched files.
#include "supervisor/site_pool.hpp"

#include <spdlog/spdlog.h>

namespace vhostd::supervisor {

BusMembers SitePool::bus_members() const {
    BusMembers members;
    if (singleton_ && singleton_->state() == WorkerState::ready) members.singleton = singleton_;
    members.singleton_coming = site_.singleton.has_value() && !stopping_;
    for (const auto& worker : workers_) {
        if (worker->state() == WorkerState::ready) members.workers.push_back(worker);
        if (worker->state() == WorkerState::ready || worker->state() == WorkerState::draining) members.everyone.push_back(worker);
    }
    if (members.singleton) members.everyone.push_back(members.singleton);
    return members;
}

// Dev mode: a change under a watched directory rolls the workers once the changes settle;
// the roll starts the new worker before the old one drains, as a reload does.
void SitePool::watch_files() {
    watcher_.reset();
    if (site_.watch.empty()) return;
    try {
        watcher_ = std::make_unique<FileWatcher>(
            strand_, site_.watch, std::chrono::duration_cast<std::chrono::milliseconds>(site_.watch_debounce),
            [this, alive = std::weak_ptr<void>(alive_)](const std::string& changed) {
                if (alive.expired() || stopping_) return;
                spdlog::info("site {}: {} changed; rolling its workers", site_.name, changed);
                update(site_, true, RestartReason::watch);
            });
    } catch (const std::exception& e) {
        spdlog::error("site {}: cannot watch its files: {}", site_.name, e.what());
    }
}

void SitePool::run_due_tasks(Clock::time_point now) {
    if (stopping_ || paused_) return;
    for (std::size_t i = 0; i < site_.tasks.size() && i < task_schedule_.size(); ++i) {
        if (!task_schedule_.is_due(i, now)) continue;
        const conf::Task& task = site_.tasks[i];
        const BusMembers members = bus_members();
        std::shared_ptr<Worker> target = members.singleton;
        if (task.to == conf::Task::Target::worker && !members.workers.empty()) {
            std::uniform_int_distribution<std::size_t> pick(0, members.workers.size() - 1);
            target = members.workers[pick(jitter_)];
        } else if (task.to == conf::Task::Target::worker) {
            target = nullptr;
        }
        if (target && bus_.send_task(*target, task.name)) {
            ++tasks_run_;
            spdlog::debug("site {}: task {} sent to {}", site_.name, task.name, describe(*target));
        } else {
            ++tasks_skipped_;
            spdlog::warn("site {}: task {} skipped: no ready {} could take it", site_.name, task.name,
                         task.to == conf::Task::Target::worker ? "worker" : "singleton");
        }
        task_schedule_.advance(i, task, now, std::chrono::system_clock::now());
    }
}

}  // namespace vhostd::supervisor
