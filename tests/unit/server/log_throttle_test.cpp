// server/log_throttle: one line per interval, with the count of the failures held back.
#include "server/log_throttle.hpp"

#include <gtest/gtest.h>

namespace vhostd::server {
namespace {

using namespace std::chrono_literals;

TEST(LogThrottle, OneLinePerIntervalWithTheCountHeldBack) {
    LogThrottle throttle(10s);
    const auto start = LogThrottle::Clock::time_point{} + 1h;
    EXPECT_EQ(throttle.admit(start), 0u);  // the first failure is always logged
    for (int i = 1; i <= 99; ++i) EXPECT_FALSE(throttle.admit(start + i * 100ms));
    EXPECT_EQ(throttle.admit(start + 10s), 99u);
    EXPECT_FALSE(throttle.admit(start + 15s));
    EXPECT_EQ(throttle.admit(start + 21s), 1u);
    EXPECT_EQ(throttle.admit(start + 1h), 0u);
}

}  // namespace
}  // namespace vhostd::server
