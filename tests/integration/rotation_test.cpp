// Scenario: workers are replaced when old, fat or busy enough, one at a time, each new one
// ready before the old one drains — under continuous traffic that loses nothing.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

using namespace vhostd::test;

namespace {

// Sequential requests, a new connection each, for `duration`; every answer is counted.
struct LoadResult {
    int ok = 0;
    int other = 0;
    std::set<int> pids;
};

LoadResult load(std::uint16_t port, const std::string& host, std::chrono::milliseconds duration) {
    LoadResult result;
    const auto end = std::chrono::steady_clock::now() + duration;
    for (int i = 0; i < 100000 && std::chrono::steady_clock::now() < end; ++i) {
        const Exchange answer = get(port, host);
        if (answer.status() == 200) {
            ++result.ok;
            if (auto pid = pid_in(answer.body())) result.pids.insert(*pid);
        } else {
            ++result.other;
            ADD_FAILURE() << "answer " << answer.status() << " reset=" << answer.reset << " timed_out=" << answer.timed_out
                          << "\n" << answer.response;
        }
    }
    return result;
}

TEST(Rotation, AgeRotationUnderLoadLosesNoRequest) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 2, "max_age = \"1s\"\ndrain_timeout = \"5s\""));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example", 2)) << vhostd.log();
    const LoadResult result = load(port, "blog.example", 3500ms);
    EXPECT_EQ(result.other, 0);
    EXPECT_GT(result.ok, 100);
    EXPECT_GE(result.pids.size(), 4u) << "both workers rotated at least once";
    EXPECT_GE(vhostd.count_in_log("max_age reached; it serves until its replacement is ready"), 2u) << vhostd.log();
}

TEST(Rotation, LastWorkerDrainsOnlyAfterItsReplacementIsReady) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("solo", R"(["solo.example"])", 1, "max_age = \"1s\""));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "solo.example")) << vhostd.log();
    const pid_t first = vhostd.workers().at(0);
    const LoadResult result = load(port, "solo.example", 2000ms);
    EXPECT_EQ(result.other, 0);
    ASSERT_TRUE(vhostd.wait_for_log("(pid " + std::to_string(first) + "): ready -> draining (max_age reached)")) << vhostd.log();
    const std::string log = vhostd.log();
    const auto drained_at = log.find("(pid " + std::to_string(first) + "): ready -> draining");
    const auto successor_ready_at = log.find("ready after", log.find("max_age reached; it serves until its replacement is ready"));
    EXPECT_LT(successor_ready_at, drained_at) << log;
}

TEST(Rotation, WorkerOverMaxMemoryIsRotated) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + test_site("fat", R"(["fat.example"])", "--leak-mib 16", "max_memory = \"40MiB\""));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "fat.example")) << vhostd.log();
    const pid_t first = vhostd.workers().at(0);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(get(port, "fat.example").status(), 200);
    EXPECT_TRUE(vhostd.wait_for_log("(pid " + std::to_string(first) + "): max_memory exceeded")) << vhostd.log();
    EXPECT_TRUE(wait_until_gone(first));
    EXPECT_EQ(get(port, "fat.example").status(), 200);
}

TEST(Rotation, WorkerIsRotatedAfterMaxRequests) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("busy", R"(["busy.example"])", 1, "max_requests = 5\nheartbeat_timeout = \"600ms\""));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "busy.example")) << vhostd.log();
    const pid_t first = vhostd.workers().at(0);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(get(port, "busy.example").status(), 200);
    EXPECT_TRUE(vhostd.wait_for_log("(pid " + std::to_string(first) + "): max_requests reached")) << vhostd.log();
    EXPECT_TRUE(wait_until_gone(first));
}

}  // namespace
