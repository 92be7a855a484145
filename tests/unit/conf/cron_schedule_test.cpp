#include "conf/cron_schedule.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

using vhostd::conf::CronSchedule;
using Clock = std::chrono::system_clock;

namespace {

// Local time, as cron reads it; the tests pin TZ to UTC so that the numbers are fixed.
Clock::time_point at(int year, int month, int day, int hour, int minute) {
    std::tm t{};
    t.tm_year = year - 1900;
    t.tm_mon = month - 1;
    t.tm_mday = day;
    t.tm_hour = hour;
    t.tm_min = minute;
    t.tm_isdst = -1;
    return Clock::from_time_t(std::mktime(&t));
}

CronSchedule parse(std::string_view text) {
    std::string problem;
    auto schedule = CronSchedule::parse(text, problem);
    EXPECT_TRUE(schedule) << text << ": " << problem;
    return schedule.value_or(*CronSchedule::parse("* * * * *", problem));
}

class Cron : public ::testing::Test {
protected:
    void SetUp() override {
        ::setenv("TZ", "UTC", 1);
        ::tzset();
    }
};

}  // namespace

TEST_F(Cron, EveryMinuteIsTheNextWholeMinute) {
    EXPECT_EQ(parse("* * * * *").next_after(at(2026, 11, 21, 10, 0) + std::chrono::seconds(30)), at(2026, 11, 21, 10, 1));
    EXPECT_EQ(parse("* * * * *").next_after(at(2026, 11, 21, 10, 0)), at(2026, 11, 21, 10, 1)) << "strictly after";
}

TEST_F(Cron, StepsRangesAndLists) {
    EXPECT_EQ(parse("*/15 * * * *").next_after(at(2026, 11, 21, 10, 16)), at(2026, 11, 21, 10, 30));
    EXPECT_EQ(parse("5,35 9-17 * * *").next_after(at(2026, 11, 21, 17, 40)), at(2026, 11, 22, 9, 5));
    EXPECT_EQ(parse("0 0 1 * *").next_after(at(2026, 11, 21, 10, 0)), at(2026, 12, 1, 0, 0));
    EXPECT_EQ(parse("0 12 * 2 *").next_after(at(2026, 11, 21, 10, 0)), at(2027, 2, 1, 12, 0));
    EXPECT_EQ(parse("10/20 * * * *").next_after(at(2026, 11, 21, 10, 31)), at(2026, 11, 21, 10, 50)) << "a/n runs to the end";
}

TEST_F(Cron, DayOfWeekAndEitherDayRule) {
    // 2026-11-21 is a Saturday.
    EXPECT_EQ(parse("0 9 * * 1").next_after(at(2026, 11, 21, 10, 0)), at(2026, 11, 23, 9, 0));
    EXPECT_EQ(parse("0 9 * * 7").next_after(at(2026, 11, 21, 10, 0)), at(2026, 11, 22, 9, 0)) << "7 is Sunday too";
    // Both day fields restricted: either matches (the 25th, or a Monday).
    EXPECT_EQ(parse("0 0 25 * 1").next_after(at(2026, 11, 21, 10, 0)), at(2026, 11, 23, 0, 0));
}

TEST_F(Cron, ADateThatNeverComesHasNoNextTime) {
    EXPECT_FALSE(parse("0 0 30 2 *").next_after(at(2026, 11, 21, 10, 0)));
}

TEST_F(Cron, BadExpressionsSayWhatIsWrong) {
    std::string problem;
    EXPECT_FALSE(CronSchedule::parse("* * * *", problem));
    EXPECT_EQ(problem, "must have five fields: minute hour day-of-month month day-of-week");
    EXPECT_FALSE(CronSchedule::parse("60 * * * *", problem));
    EXPECT_EQ(problem, "bad minute (0-59) field");
    EXPECT_FALSE(CronSchedule::parse("* 5-2 * * *", problem));
    EXPECT_EQ(problem, "bad hour (0-23) field");
    EXPECT_FALSE(CronSchedule::parse("* * 0 * *", problem));
    EXPECT_FALSE(CronSchedule::parse("* * * 13 *", problem));
    EXPECT_FALSE(CronSchedule::parse("*/0 * * * *", problem));
    EXPECT_FALSE(CronSchedule::parse("* * * * MON", problem));
    EXPECT_FALSE(CronSchedule::parse("1,,2 * * * *", problem));
    EXPECT_FALSE(CronSchedule::parse("59/2147483647 * * * *", problem)) << "a step past the range (it overflowed once)";
    EXPECT_TRUE(CronSchedule::parse("*/60 * * * *", problem));
}
