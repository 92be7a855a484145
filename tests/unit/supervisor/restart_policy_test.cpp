#include "supervisor/restart_policy.hpp"

#include <gtest/gtest.h>

using namespace vhostd;
using namespace vhostd::supervisor;
using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

namespace {

const conf::RestartBackoff backoff{100ms, 1s};

conf::RestartLimit limit(unsigned count, conf::Duration window, conf::Duration cooldown) {
    conf::RestartLimit l;
    l.count = count;
    l.window = window;
    l.cooldown = cooldown;
    return l;
}

}  // namespace

TEST(Backoff, DoublesFromInitialUpToMax) {
    Backoff b;
    EXPECT_EQ(b.next_delay(backoff), 100ms);
    EXPECT_EQ(b.next_delay(backoff), 200ms);
    EXPECT_EQ(b.next_delay(backoff), 400ms);
    EXPECT_EQ(b.next_delay(backoff), 800ms);
    EXPECT_EQ(b.next_delay(backoff), 1s);
    EXPECT_EQ(b.next_delay(backoff), 1s);
    EXPECT_EQ(b.consecutive_failures(), 6u);
}

TEST(Backoff, NeverOverflowsAfterManyFailures) {
    Backoff b;
    const conf::RestartBackoff huge{1ms, std::chrono::hours(24)};
    for (int i = 0; i < 100; ++i) {
        const auto delay = b.next_delay(huge);
        EXPECT_GT(delay, 0ms);
        EXPECT_LE(delay, std::chrono::hours(24));
    }
    EXPECT_EQ(b.next_delay(huge), 65536ms);  // the shift stops at 16
}

TEST(Backoff, HealthyRunResetsButShortRunDoesNot) {
    Backoff b;
    b.next_delay(backoff);
    b.next_delay(backoff);
    b.note_run(9999ms);
    EXPECT_EQ(b.next_delay(backoff), 400ms);
    b.note_run(healthy_run);
    EXPECT_EQ(b.next_delay(backoff), 100ms);
}

TEST(RestartPolicy, BacksOffBetweenStarts) {
    RestartPolicy policy;
    const TimePoint t0{std::chrono::seconds(1000)};
    EXPECT_TRUE(policy.may_start(t0));
    const auto first = policy.record_failure(t0, 1s, backoff, limit(10, 60s, 60s));
    EXPECT_EQ(first.delay, 100ms);
    EXPECT_FALSE(first.quarantine_began);
    EXPECT_FALSE(policy.may_start(t0 + 99ms));
    EXPECT_TRUE(policy.may_start(t0 + 100ms));
    EXPECT_EQ(policy.next_start_at(), t0 + 100ms);
    EXPECT_EQ(policy.record_failure(t0 + 100ms, 0s, backoff, limit(10, 60s, 60s)).delay, 200ms);
    // A worker that ran healthily before failing starts again soon.
    EXPECT_EQ(policy.record_failure(t0 + 20s, 15s, backoff, limit(10, 60s, 60s)).delay, 100ms);
}

TEST(RestartPolicy, QuarantinesAfterMoreThanCountFailuresInTheWindow) {
    RestartPolicy policy;
    const auto l = limit(3, 10s, 30s);
    const TimePoint t0{std::chrono::seconds(1000)};
    for (int i = 0; i < 3; ++i) {
        EXPECT_FALSE(policy.record_failure(t0 + i * 1s, 0s, backoff, l).quarantine_began);
        EXPECT_FALSE(policy.quarantined());
    }
    const auto fourth = policy.record_failure(t0 + 3s, 0s, backoff, l);
    EXPECT_TRUE(fourth.quarantine_began);
    EXPECT_TRUE(policy.quarantined());
    EXPECT_EQ(policy.quarantined_until(), t0 + 33s);
    EXPECT_EQ(policy.recent_failures(), 4u);
    EXPECT_FALSE(policy.may_start(t0 + 20s));
    // A further failure while quarantined does not begin it again nor move its end.
    EXPECT_FALSE(policy.record_failure(t0 + 4s, 0s, backoff, l).quarantine_began);
    EXPECT_EQ(policy.quarantined_until(), t0 + 33s);
}

TEST(RestartPolicy, FailuresOutsideTheWindowDoNotCount) {
    RestartPolicy policy;
    const auto l = limit(2, 10s, 30s);
    const TimePoint t0{std::chrono::seconds(1000)};
    policy.record_failure(t0, 0s, backoff, l);
    policy.record_failure(t0 + 5s, 0s, backoff, l);
    // The first is exactly a window old: it has left it.
    EXPECT_FALSE(policy.record_failure(t0 + 10s, 0s, backoff, l).quarantine_began);
    EXPECT_EQ(policy.recent_failures(), 2u);
    EXPECT_TRUE(policy.record_failure(t0 + 11s, 0s, backoff, l).quarantine_began);
}

TEST(RestartPolicy, QuarantineCountsDownAndEnds) {
    RestartPolicy policy;
    const auto l = limit(0, 10s, 30s);
    const TimePoint t0{std::chrono::seconds(1000)};
    policy.record_failure(t0, 0s, backoff, l);
    ASSERT_TRUE(policy.quarantined());
    EXPECT_EQ(policy.retry_after_seconds(t0), 30);
    EXPECT_EQ(policy.retry_after_seconds(t0 + 100ms), 30);  // rounded up
    EXPECT_EQ(policy.retry_after_seconds(t0 + 29s), 1);
    EXPECT_EQ(policy.retry_after_seconds(t0 + 29900ms), 1);
    EXPECT_FALSE(policy.end_quarantine_if_over(t0 + 29999ms));
    EXPECT_TRUE(policy.quarantined());
    EXPECT_TRUE(policy.end_quarantine_if_over(t0 + 30s));
    EXPECT_FALSE(policy.quarantined());
    EXPECT_EQ(policy.recent_failures(), 0u);
    EXPECT_EQ(policy.retry_after_seconds(t0 + 30s), 1);
    EXPECT_TRUE(policy.may_start(t0 + 30s));
    // The backoff starts over too.
    EXPECT_EQ(policy.record_failure(t0 + 31s, 0s, backoff, limit(10, 10s, 30s)).delay, 100ms);
}

TEST(RestartPolicy, RetryAfterIsOneWhenNotQuarantined) {
    RestartPolicy policy;
    EXPECT_EQ(policy.retry_after_seconds(TimePoint{}), 1);
    EXPECT_FALSE(policy.end_quarantine_if_over(TimePoint{}));
}
