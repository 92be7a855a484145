// Scenario: workers that hang — a blocked event loop, a SIGSTOPped process, one that ignores
// SIGTERM — are found by their missing heartbeats and replaced.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <thread>

using namespace vhostd::test;

namespace {

const std::string fast_timeouts = "heartbeat_timeout = \"1s\"\nkill_timeout = \"300ms\"\n";

// The pid answering for `host`, once one answers 200.
std::optional<int> answering_pid(std::uint16_t port, const std::string& host) {
    const Exchange answer = get(port, host);
    return answer.status() == 200 ? pid_in(answer.body()) : std::nullopt;
}

TEST(Heartbeat, HungWorkerIsKilledAndReplaced) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + test_site("hang", R"(["hang.example"])", "--hang-after 2", fast_timeouts));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "hang.example")) << vhostd.log();
    const auto first = vhostd.workers();
    ASSERT_EQ(first.size(), 1u);

    // This request hangs the worker; its answer is lost with the worker (it was in the worker, not the front).
    std::thread victim([port] { get(port, "hang.example"); });
    EXPECT_TRUE(vhostd.wait_for_log("ready -> stopping (silent for heartbeat_timeout)")) << vhostd.log();
    EXPECT_TRUE(wait_until_gone(first[0]));
    std::optional<int> replacement;
    EXPECT_TRUE(wait_until([&] { return (replacement = answering_pid(port, "hang.example")).has_value(); })) << vhostd.log();
    EXPECT_NE(*replacement, first[0]);
    victim.join();
}

TEST(Heartbeat, StoppedProcessCountsAsHung) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 1, fast_timeouts));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    const pid_t stopped = vhostd.workers().at(0);
    ASSERT_EQ(::kill(stopped, SIGSTOP), 0);
    // SIGTERM waits while the process is stopped; SIGKILL after kill_timeout does not.
    EXPECT_TRUE(vhostd.wait_for_log("(pid " + std::to_string(stopped) + "): stopping -> stopping (still running after kill_timeout)"))
        << vhostd.log();
    EXPECT_TRUE(wait_until_gone(stopped));
    EXPECT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
}

TEST(Heartbeat, WorkerIgnoringSigtermIsKilled) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + test_site("deaf", R"(["deaf.example"])", "--hang-after 1 --ignore-sigterm", fast_timeouts));
    ASSERT_TRUE(vhostd.wait_for_log("ready after")) << vhostd.log();
    std::thread victim([port] { get(port, "deaf.example"); });  // hangs it; the answer never comes
    EXPECT_TRUE(vhostd.wait_for_log("killed by signal 9")) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_for_log("still running after kill_timeout")) << vhostd.log();
    victim.join();
}

TEST(Heartbeat, WorkerThatNeverSaysReadyIsAFailedStart) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + test_site("mute", R"(["mute.example"])", "--never-ready",
                                                          "start_timeout = \"300ms\"\nkill_timeout = \"200ms\"\n"
                                                          "restart_backoff = { initial = \"10ms\", max = \"10ms\" }\n"));
    EXPECT_TRUE(vhostd.wait_for_log("starting -> stopping (did not say ready within start_timeout)")) << vhostd.log();
    EXPECT_TRUE(wait_until([&] { return vhostd.count_in_log(": started (generation 1)") >= 2; })) << vhostd.log();
}

}  // namespace
