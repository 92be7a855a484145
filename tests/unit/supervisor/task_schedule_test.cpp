#include "supervisor/task_schedule.hpp"

#include <gtest/gtest.h>

using namespace vhostd;
using namespace vhostd::supervisor;
using namespace std::chrono_literals;
using TimePoint = TaskSchedule::TimePoint;
using WallTime = TaskSchedule::WallTime;

namespace {

conf::Task every(conf::Duration interval) {
    conf::Task task;
    task.name = "tick";
    task.every = interval;
    return task;
}

conf::Task cron(const char* expression) {
    conf::Task task;
    task.name = "cron";
    std::string problem;
    task.cron = conf::CronSchedule::parse(expression, problem);
    EXPECT_TRUE(task.cron) << problem;
    return task;
}

const TimePoint t0{std::chrono::seconds(5000)};
// 2026-01-01 00:00:30 UTC, half a minute past.
const WallTime wall0 = std::chrono::sys_days{std::chrono::year{2026} / 1 / 1} + 30s;

// A schedule of `tasks` started at t0, wall0.
TaskSchedule started(const std::vector<conf::Task>& tasks) {
    TaskSchedule schedule;
    schedule.reset(tasks, t0, wall0);
    return schedule;
}

}  // namespace

TEST(TaskSchedule, IntervalTasksAreDueEveryIntervalFromTheStart) {
    const std::vector<conf::Task> tasks{every(10s)};
    TaskSchedule schedule = started(tasks);
    ASSERT_EQ(schedule.size(), 1u);
    EXPECT_FALSE(schedule.is_due(0, t0 + 9999ms));
    EXPECT_TRUE(schedule.is_due(0, t0 + 10s));
    schedule.advance(0, tasks[0], t0 + 10s, wall0 + 10s);
    EXPECT_EQ(schedule.due(0), t0 + 20s);
}

TEST(TaskSchedule, ALateTickRunsOnceAndKeepsTheSlots) {
    const std::vector<conf::Task> tasks{every(10s)};
    TaskSchedule schedule = started(tasks);
    // The tick came 35 s late: one run, then the next slot after now, not three catch-ups.
    schedule.advance(0, tasks[0], t0 + 45s, wall0 + 45s);
    EXPECT_EQ(schedule.due(0), t0 + 50s);
    EXPECT_FALSE(schedule.is_due(0, t0 + 45s));
    // Exactly on a slot: the next one.
    schedule.advance(0, tasks[0], t0 + 50s, wall0 + 50s);
    EXPECT_EQ(schedule.due(0), t0 + 60s);
}

TEST(TaskSchedule, CronTasksAreDueAtTheNextMatchingMinute) {
    const std::vector<conf::Task> tasks{cron("*/5 * * * *")};
    TaskSchedule schedule = started(tasks);
    // From 00:00:30 the next */5 minute is 00:05:00, 4 min 30 s away.
    EXPECT_EQ(schedule.due(0), t0 + 270s);
    schedule.advance(0, tasks[0], t0 + 270s, wall0 + 270s);
    EXPECT_EQ(schedule.due(0), t0 + 570s);
}

TEST(TaskSchedule, CronNeverRunsAMinuteTwiceWhenTheWallClockLags) {
    const std::vector<conf::Task> tasks{cron("* * * * *")};
    TaskSchedule schedule = started(tasks);
    ASSERT_EQ(schedule.due(0), t0 + 30s);  // 00:01:00
    // The steady clock says due, but the wall clock still reads 00:00:59.
    schedule.advance(0, tasks[0], t0 + 30s, wall0 + 29s);
    // The next is 00:02:00, not 00:01:00 again: 61 s after the wall's 00:00:59.
    EXPECT_EQ(schedule.due(0), t0 + 30s + 61s);
}

TEST(TaskSchedule, ACronDateThatNeverComesIsNeverDue) {
    const std::vector<conf::Task> tasks{cron("0 0 30 2 *")};
    TaskSchedule schedule = started(tasks);
    EXPECT_EQ(schedule.due(0), TimePoint::max());
    EXPECT_FALSE(schedule.is_due(0, t0 + std::chrono::hours(24 * 365)));
}

TEST(TaskSchedule, ResetStartsOver) {
    std::vector<conf::Task> tasks{every(10s), cron("* * * * *")};
    TaskSchedule schedule = started(tasks);
    EXPECT_EQ(schedule.size(), 2u);
    tasks = {every(3s)};
    schedule.reset(tasks, t0 + 100s, wall0 + 100s);
    EXPECT_EQ(schedule.size(), 1u);
    EXPECT_EQ(schedule.due(0), t0 + 103s);
}
