#include "service/service_notifier.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>

namespace vhostd::service {
namespace {

TEST(NotifySocket, APathCountsItsTerminator) {
    const auto parsed = parse_notify_socket("/run/systemd/notify");
    ASSERT_TRUE(parsed);
    EXPECT_STREQ(parsed->address.sun_path, "/run/systemd/notify");
    EXPECT_EQ(parsed->length, offsetof(sockaddr_un, sun_path) + std::strlen("/run/systemd/notify") + 1);
}

TEST(NotifySocket, AtMeansTheAbstractNamespace) {
    const auto parsed = parse_notify_socket("@vhostd/notify");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->address.sun_path[0], '\0');
    EXPECT_EQ(std::string(parsed->address.sun_path + 1, 13), "vhostd/notify");
    EXPECT_EQ(parsed->length, offsetof(sockaddr_un, sun_path) + 14);  // no terminator in an abstract name
}

TEST(NotifySocket, RelativeEmptyOrTooLongIsRefused) {
    EXPECT_FALSE(parse_notify_socket(""));
    EXPECT_FALSE(parse_notify_socket("@"));
    EXPECT_FALSE(parse_notify_socket("run/notify"));
    EXPECT_FALSE(parse_notify_socket("/" + std::string(sizeof(sockaddr_un::sun_path) - 1, 'x')));
    EXPECT_TRUE(parse_notify_socket("/" + std::string(sizeof(sockaddr_un::sun_path) - 2, 'x')));
}

TEST(Watchdog, HalfTheIntervalForThisProcess) {
    EXPECT_EQ(watchdog_interval("3000000", nullptr, 42), std::chrono::microseconds(1'500'000));
    EXPECT_EQ(watchdog_interval("3000000", "42", 42), std::chrono::microseconds(1'500'000));
}

TEST(Watchdog, OffWhenUnsetZeroMalformedOrAnotherProcesss) {
    EXPECT_EQ(watchdog_interval(nullptr, nullptr, 42).count(), 0);
    EXPECT_EQ(watchdog_interval("0", nullptr, 42).count(), 0);
    EXPECT_EQ(watchdog_interval("1s", nullptr, 42).count(), 0);
    EXPECT_EQ(watchdog_interval("3000000", "41", 42).count(), 0);
    EXPECT_EQ(watchdog_interval("3000000", "x", 42).count(), 0);
}

}  // namespace
}  // namespace vhostd::service
