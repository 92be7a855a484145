#include "server/inherited_sockets.hpp"

#include <gtest/gtest.h>

namespace vhostd::server {
namespace {

TEST(ListenFds, UnsetMeansNone) {
    EXPECT_EQ(parse_listen_fds(nullptr, nullptr, 42).count, 0u);
    EXPECT_TRUE(parse_listen_fds(nullptr, nullptr, 42).error.empty());
    // LISTEN_FDS without LISTEN_PID could be anyone's: ignored, as sd_listen_fds(3) does.
    EXPECT_EQ(parse_listen_fds(nullptr, "2", 42).count, 0u);
    EXPECT_TRUE(parse_listen_fds(nullptr, "2", 42).error.empty());
}

TEST(ListenFds, CountedForThisProcessOnly) {
    EXPECT_EQ(parse_listen_fds("42", "2", 42).count, 2u);
    EXPECT_EQ(parse_listen_fds("42", "0", 42).count, 0u);
    // Another process's variables (a parent's, inherited): not ours, and not an error.
    const ListenFds others = parse_listen_fds("41", "2", 42);
    EXPECT_EQ(others.count, 0u);
    EXPECT_TRUE(others.error.empty());
}

TEST(ListenFds, MalformedIsAnErrorNamingTheVariable) {
    for (const auto& [pid, fds] : std::vector<std::pair<const char*, const char*>>{
             {"", "1"}, {"42x", "1"}, {"-42", "1"}, {"42", ""}, {"42", "two"}, {"42", "-1"}, {"42", "4097"}, {"42", "1 "}}) {
        const ListenFds parsed = parse_listen_fds(pid, fds, 42);
        EXPECT_EQ(parsed.count, 0u) << (pid ? pid : "(unset)") << " " << fds;
        EXPECT_NE(parsed.error.find("LISTEN_"), std::string::npos) << (pid ? pid : "(unset)") << " " << fds;
    }
}

}  // namespace
}  // namespace vhostd::server
