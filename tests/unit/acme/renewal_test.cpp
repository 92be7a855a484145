// When certificates are renewed and attempts retried (acme/renewal.hpp).
#include "acme/renewal.hpp"

#include <gtest/gtest.h>

namespace vhostd::acme {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

const Clock::time_point issued = Clock::from_time_t(1'700'000'000);

TEST(RenewalTime, AThirdOfNinetyDaysLeftIsThirtyDaysBeforeExpiry) {
    const Clock::duration lifetime = std::chrono::hours(24 * 90);
    const auto expires = issued + lifetime;
    EXPECT_EQ(renewal_time(issued, expires, 33, 0.0), expires - lifetime * 33 / 100);
    EXPECT_LT(expires - renewal_time(issued, expires, 33, 0.0), std::chrono::hours(24 * 30));
    EXPECT_GT(expires - renewal_time(issued, expires, 33, 0.0), std::chrono::hours(24 * 29));
    // Jitter moves it earlier, by at most a twentieth of the lifetime.
    EXPECT_EQ(renewal_time(issued, expires, 33, 1.0), expires - lifetime * 33 / 100 - lifetime / 20);
    const auto halfway = renewal_time(issued, expires, 33, 0.5);
    EXPECT_LT(halfway, renewal_time(issued, expires, 33, 0.0));
    EXPECT_GT(halfway, renewal_time(issued, expires, 33, 1.0));
}

TEST(RenewalTime, NeverBeforeTheCertificateIsValidNorForAnInvertedOne) {
    const auto expires = issued + 100s;
    EXPECT_EQ(renewal_time(issued, expires, 100, 1.0), issued);
    EXPECT_EQ(renewal_time(expires, issued, 33, 0.0), expires) << "not_after before not_before: renew at once";
}

TEST(TimeInWindow, UniformInTheSuggestedWindow) {
    const Clock::time_point start = issued + 60 * 24h, end = start + 48h;
    EXPECT_EQ(time_in_window(start, end, 0.0), start);
    EXPECT_EQ(time_in_window(start, end, 0.5), start + 24h);
    EXPECT_EQ(time_in_window(start, end, 1.0), end);
    EXPECT_EQ(time_in_window(start, end, 7.0), end) << "a fraction outside 0..1 is clamped";
    EXPECT_EQ(time_in_window(end, start, 0.5), end) << "an inverted window is its start";
}

TEST(RenewalInfoRecheck, RetryAfterBetweenAMinuteAndADay) {
    EXPECT_EQ(renewal_info_recheck("", issued), milliseconds(6h));
    EXPECT_EQ(renewal_info_recheck("garbage", issued), milliseconds(6h));
    EXPECT_EQ(renewal_info_recheck("21600", issued), milliseconds(6h));
    EXPECT_EQ(renewal_info_recheck("0", issued), milliseconds(1min));
    EXPECT_EQ(renewal_info_recheck("5", issued), milliseconds(1min));
    EXPECT_EQ(renewal_info_recheck("999999999", issued), milliseconds(24h));
}

TEST(RetryDelay, DoublesUpToTheMaximum) {
    EXPECT_EQ(retry_delay(1, 60s, 24h), milliseconds(60s));
    EXPECT_EQ(retry_delay(2, 60s, 24h), milliseconds(120s));
    EXPECT_EQ(retry_delay(5, 60s, 24h), milliseconds(16min));
    EXPECT_EQ(retry_delay(40, 60s, 24h), milliseconds(24h));
    EXPECT_EQ(retry_delay(1000, 1s, 10s), milliseconds(10s)) << "no overflow however many failures";
}

TEST(RetryAfter, SecondsOrAnHttpDateWithinBounds) {
    const Clock::time_point now = Clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
    EXPECT_EQ(retry_after("3", now, 1s, 30s), milliseconds(3s));
    EXPECT_EQ(retry_after(" 7 ", now, 1s, 30s), milliseconds(7s));
    EXPECT_EQ(retry_after("", now, 1s, 30s), milliseconds(1s));
    EXPECT_EQ(retry_after("soon", now, 1s, 30s), milliseconds(1s));
    EXPECT_EQ(retry_after("-5", now, 1s, 30s), milliseconds(1s));
    EXPECT_EQ(retry_after("3600", now, 1s, 30s), milliseconds(30s));
    EXPECT_EQ(retry_after("99999999999999999999999", now, 1s, 30s), milliseconds(30s));
    EXPECT_EQ(retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now, 1s, 30s), milliseconds(10s));
    EXPECT_EQ(retry_after("Sun, 06 Nov 1994 08:49:27 GMT", now, 1s, 30s), milliseconds(0)) << "a date past: at once";
    EXPECT_EQ(retry_after("Sun, 06 Nov 1994 08:49:47 GMT trailing", now, 1s, 30s), milliseconds(1s));
}

}  // namespace
}  // namespace vhostd::acme
