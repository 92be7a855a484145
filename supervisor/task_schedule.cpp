#include "supervisor/task_schedule.hpp"

#include <algorithm>

namespace vhostd::supervisor {

void TaskSchedule::reset(const std::vector<conf::Task>& tasks, TimePoint now, WallTime wall_now) {
    due_.assign(tasks.size(), TimePoint::max());
    wall_due_.assign(tasks.size(), {});
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (tasks[i].cron) {
            schedule_cron(i, *tasks[i].cron, now, wall_now, wall_now);
        } else if (tasks[i].every > conf::Duration::zero()) {
            due_[i] = now + tasks[i].every;
        }
    }
}

void TaskSchedule::advance(std::size_t task, const conf::Task& definition, TimePoint now, WallTime wall_now) {
    if (definition.cron) {
        schedule_cron(task, *definition.cron, now, wall_now, wall_due_[task]);
    } else if (definition.every > conf::Duration::zero()) {
        do due_[task] += definition.every;
        while (due_[task] <= now);
    } else {
        due_[task] = TimePoint::max();
    }
}

void TaskSchedule::schedule_cron(std::size_t task, const conf::CronSchedule& cron, TimePoint now, WallTime wall_now,
                                 WallTime after) {
    const auto next = cron.next_after(std::max(wall_now, after));
    wall_due_[task] = next.value_or(WallTime::max());
    due_[task] = next ? now + (*next - wall_now) : TimePoint::max();
}

}  // namespace vhostd::supervisor
