// When each of a site's tasks is due. Pure: the pool passes the steady `now` its ticks use and
// the wall-clock `wall_now` that cron times are read in.
//  - Interval tasks are due every `every` from the schedule's start; a late tick runs a task
//    once and moves it to the next slot after now, never in a burst.
//  - Cron tasks are due at their next matching minute, converted once to the steady clock;
//    the next one is taken after both now and the minute just run, so that a steady clock
//    ahead of the wall clock (or a wall clock stepped back) never runs a minute twice.
#pragma once

#include "conf/config.hpp"

#include <chrono>
#include <cstddef>
#include <vector>

namespace vhostd::supervisor {

class TaskSchedule {
public:
    using TimePoint = std::chrono::steady_clock::time_point;
    using WallTime = std::chrono::system_clock::time_point;

    // Starts over for `tasks` (every task's first run from now).
    void reset(const std::vector<conf::Task>& tasks, TimePoint now, WallTime wall_now);
    std::size_t size() const { return due_.size(); }
    bool is_due(std::size_t task, TimePoint now) const { return now >= due_[task]; }
    // max() when it never comes (a cron date that does not exist).
    TimePoint due(std::size_t task) const { return due_[task]; }
    // Task `task`, `definition`, has just run (or been skipped) at `now`.
    void advance(std::size_t task, const conf::Task& definition, TimePoint now, WallTime wall_now);

private:
    void schedule_cron(std::size_t task, const conf::CronSchedule& cron, TimePoint now, WallTime wall_now, WallTime after);

    std::vector<TimePoint> due_;
    std::vector<WallTime> wall_due_;  // cron tasks: the minute due
};

}  // namespace vhostd::supervisor
