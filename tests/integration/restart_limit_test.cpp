// Scenario: a site whose workers keep crashing is quarantined after its restart limit and
// answers 503 with Retry-After, while other sites keep answering; crash cycles leak nothing.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

using namespace vhostd::test;

namespace {

TEST(RestartLimit, CrashLoopQuarantinesTheSiteAndSparesTheOthers) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) +
                                  test_site("broken", R"(["broken.example"])", "--crash-at-start",
                                            "restart_limit = { count = 3, window = \"10s\", cooldown = \"30s\" }\n"
                                            "restart_backoff = { initial = \"10ms\", max = \"20ms\" }\n") +
                                  hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(vhostd.wait_for_log("site broken: quarantined for 30000 ms after 4 unexpected exits")) << vhostd.log();
    EXPECT_EQ(vhostd.count_in_log("exited with code 3"), 4u) << vhostd.log();
    EXPECT_EQ(vhostd.count_in_log("): started (generation 1)"), 5u) << "blog's one, broken's four, then no more forks\n" << vhostd.log();

    const Exchange answer = get(port, "broken.example");
    EXPECT_EQ(answer.status(), 503) << answer.response;
    const auto retry = answer.response.find("Retry-After: ");
    ASSERT_NE(retry, std::string::npos);
    EXPECT_GT(std::stoi(answer.response.substr(retry + 13)), 20) << "Retry-After covers the rest of the cooldown";
    EXPECT_TRUE(answer.closed);
    EXPECT_EQ(get(port, "blog.example").status(), 200);
}

TEST(RestartLimit, QuarantinedSiteStillUsesTheWorkerThatRuns) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + test_site("half", R"(["half.example"])", "--crash-in-slot 1",
                                                          "workers = 2\n"
                                                          "restart_limit = { count = 2, window = \"10s\", cooldown = \"30s\" }\n"
                                                          "restart_backoff = { initial = \"10ms\", max = \"10ms\" }\n"));
    ASSERT_TRUE(vhostd.wait_for_log("site half: quarantined")) << vhostd.log();
    for (int i = 0; i < 20; ++i) EXPECT_EQ(get(port, "half.example").status(), 200) << vhostd.log();
}

TEST(RestartLimit, QuarantineEndsAfterTheCooldown) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + test_site("flaky", R"(["flaky.example"])", "--crash-at-start",
                                                          "restart_limit = { count = 1, window = \"10s\", cooldown = \"500ms\" }\n"
                                                          "restart_backoff = { initial = \"10ms\", max = \"10ms\" }\n"));
    ASSERT_TRUE(vhostd.wait_for_log("site flaky: quarantined")) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_for_log("site flaky: quarantine over; starting workers again")) << vhostd.log();
}

TEST(RestartLimit, CrashingWorkerIsReforkedWithGrowingBackoff) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + test_site("crashy", R"(["crashy.example"])", "--crash-after 1"));
    for (int crash = 0; crash < 3; ++crash) {
        ASSERT_TRUE(vhostd.wait_until_serving(port, "crashy.example")) << vhostd.log();  // this request crashes it
    }
    EXPECT_TRUE(vhostd.wait_for_log("site crashy: next worker start in 100 ms")) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_for_log("site crashy: next worker start in 200 ms")) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_for_log("site crashy: next worker start in 400 ms")) << vhostd.log();
}

TEST(RestartLimit, ThousandCrashCyclesLeaveNoZombieAndNoLeakedFd) {
    TempDir dir;
    const std::uint16_t port = free_port();
    const std::string steady = listen_on(port) + hello_site("steady", R"(["steady.example"])", 1);
    VhostdProcess vhostd(dir, steady, {"--log-level", "info"});
    ASSERT_TRUE(vhostd.wait_until_serving(port, "steady.example")) << vhostd.log();
    const std::size_t fds_before = open_fd_count(vhostd.pid());

    ASSERT_TRUE(vhostd.reload(steady + test_site("crashy", R"(["crashy.example"])", "--crash-at-start",
                                                 "restart_limit = { count = 100000, window = \"1s\" }\n"
                                                 "restart_backoff = { initial = \"1ms\", max = \"1ms\" }\n")));
    ASSERT_TRUE(wait_until([&] { return vhostd.count_in_log("exited with code 3") >= 1000; }, 120s))
        << vhostd.count_in_log("exited with code 3") << " crashes so far";
    EXPECT_LE(zombie_children_of(vhostd.pid()), 1u) << "at most the one being reaped right now";
    EXPECT_EQ(get(port, "steady.example").status(), 200);

    // Without the crashing site, every fd its thousand workers had must be closed again.
    ASSERT_TRUE(vhostd.reload(steady));
    EXPECT_TRUE(wait_until([&] { return open_fd_count(vhostd.pid()) <= fds_before; }, 5s))
        << open_fd_count(vhostd.pid()) << " fds, " << fds_before << " before the crashes";
    EXPECT_EQ(zombie_children_of(vhostd.pid()), 0u);
}

}  // namespace
