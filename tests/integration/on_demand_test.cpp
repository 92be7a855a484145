// Scenario: a rarely visited site runs no worker until its first request, which waits for
// the worker instead of failing; idle workers above the minimum go away again.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

using namespace vhostd::test;

namespace {

TEST(OnDemand, SiteWithZeroWorkersAnswersItsFirstRequest) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) +
                                  "[sites.rare]\nhosts = [\"rare.example\"]\ncommand = [\"" + hello_worker_binary +
                                  "\"]\nmin_workers = 0\nmax_workers = 2\nidle_timeout = \"60s\"\n");
    ASSERT_TRUE(vhostd.wait_for_log("vhostd 0.1.0 serving")) << vhostd.log();
    EXPECT_TRUE(vhostd.workers().empty());

    const Exchange answer = get(port, "rare.example");
    EXPECT_EQ(answer.status(), 200) << answer.response << vhostd.log();
    EXPECT_NE(answer.body().find("hello from rare"), std::string::npos);
    EXPECT_EQ(vhostd.workers().size(), 1u);
}

TEST(OnDemand, IdleWorkerAboveTheMinimumIsDrained) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) +
                                  "[sites.rare]\nhosts = [\"rare.example\"]\ncommand = [\"" + hello_worker_binary +
                                  "\"]\nmin_workers = 0\nmax_workers = 1\nidle_timeout = \"500ms\"\nheartbeat_timeout = \"600ms\"\n");
    ASSERT_TRUE(vhostd.wait_until_serving(port, "rare.example")) << vhostd.log();
    ASSERT_EQ(vhostd.workers().size(), 1u);
    EXPECT_TRUE(vhostd.wait_for_log("ready -> draining (idle_timeout)")) << vhostd.log();
    EXPECT_TRUE(wait_until([&] { return vhostd.workers().empty(); })) << vhostd.log();
    EXPECT_EQ(get(port, "rare.example").status(), 200) << "and it comes back on demand";
}

}  // namespace
