// Scenario: SIGHUP with a changed configuration under continuous traffic — sites added,
// removed, rolled and re-hosted, listeners moved — loses no request; a broken file changes
// nothing.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace vhostd::test;

namespace {

TEST(Reload, BrokenConfigChangesNothing) {
    TempDir dir;
    const std::uint16_t port = free_port();
    const std::string config = listen_on(port) + hello_site("blog", R"(["blog.example"])", 1);
    VhostdProcess vhostd(dir, config);
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    const auto workers = vhostd.workers();

    ASSERT_TRUE(vhostd.reload(config + "[sites.shop]\nhosts = [\"blog.example\"]\ncommand = [\"x\"]\nworkers = \"many\"\n"));
    EXPECT_TRUE(vhostd.wait_for_log("keeping the running configuration")) << vhostd.log();
    EXPECT_NE(vhostd.log().find("reload: " + (dir.path() / "vhostd.toml").string() + ":"), std::string::npos) << vhostd.log();
    EXPECT_EQ(get(port, "blog.example").status(), 200);
    EXPECT_EQ(vhostd.workers(), workers);
}

TEST(Reload, SitesChangeUnderLoadWithoutLosingARequest) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + test_site("app", R"(["app.example"])", "", "workers = 2\nenv = { RELEASE = \"1\" }") +
                                  hello_site("old", R"(["old.example"])", 1));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "app.example", 2)) << vhostd.log();
    ASSERT_TRUE(vhostd.wait_until_serving(port, "old.example")) << vhostd.log();

    std::atomic<bool> stop{false};
    std::atomic<int> ok{0}, failed{0}, second_generation{0};
    std::thread client([&] {
        for (int i = 0; i < 100000 && !stop; ++i) {
            const Exchange answer = get(port, "app.example");
            if (answer.status() != 200) {
                ++failed;
                ADD_FAILURE() << answer.status() << " reset=" << answer.reset << " " << answer.response;
            } else {
                ++ok;
                if (answer.body().find("generation 2") != std::string::npos) ++second_generation;
            }
        }
    });
    ASSERT_TRUE(wait_until([&] { return ok > 50; }));

    // app: new env (its workers roll) and a new alias; old: removed; new: added.
    ASSERT_TRUE(vhostd.reload(listen_on(port) + test_site("app", R"(["app.example", "www.app.example"])", "", "workers = 2\nenv = { RELEASE = \"2\" }") +
                              hello_site("new", R"(["new.example"])", 1)));
    EXPECT_TRUE(wait_until([&] { return second_generation > 50; })) << vhostd.log();
    stop = true;
    client.join();

    EXPECT_EQ(failed, 0);
    EXPECT_TRUE(vhostd.wait_until_serving(port, "new.example")) << vhostd.log();
    EXPECT_EQ(get(port, "old.example").status(), 404);
    const Exchange alias = get(port, "www.app.example");
    EXPECT_EQ(alias.status(), 200);
    EXPECT_NE(alias.body().find("generation 2"), std::string::npos) << alias.response;
    EXPECT_NE(vhostd.log().find("reload: 1 sites added, 1 removed, 1 rolled, 0 updated"), std::string::npos) << vhostd.log();
}

TEST(Reload, RollingToFewerWorkersLeavesOnlyTheNewGeneration) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + test_site("app", R"(["app.example"])", "", "workers = 4\nenv = { RELEASE = \"1\" }"));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "app.example", 4)) << vhostd.log();
    const auto old_workers = vhostd.workers();

    ASSERT_TRUE(vhostd.reload(listen_on(port) + test_site("app", R"(["app.example"])", "", "workers = 2\nenv = { RELEASE = \"2\" }")));
    for (pid_t old : old_workers) EXPECT_TRUE(wait_until_gone(old)) << "old-generation worker " << old << " kept running\n" << vhostd.log();
    EXPECT_TRUE(wait_until([&] { return vhostd.workers().size() == 2; })) << vhostd.log();
    for (int i = 0; i < 10; ++i) EXPECT_NE(get(port, "app.example").body().find("generation 2"), std::string::npos);
}

TEST(Reload, ListenersAreOpenedAndClosed) {
    TempDir dir;
    const std::uint16_t first = free_port();
    VhostdProcess vhostd(dir, listen_on(first) + hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(vhostd.wait_until_serving(first, "blog.example")) << vhostd.log();

    const std::uint16_t second = free_port();
    ASSERT_TRUE(vhostd.reload(listen_on(second) + hello_site("blog", R"(["blog.example"])", 1)));
    EXPECT_TRUE(vhostd.wait_until_serving(second, "blog.example")) << vhostd.log();
    const bool old_port_closed = wait_until([first] {
        try {
            Connection probe(first);
            return false;
        } catch (const std::runtime_error&) {
            return true;
        }
    });
    EXPECT_TRUE(old_port_closed) << vhostd.log();
}

TEST(Reload, ListenerThatCannotBeBoundChangesNothing) {
    TempDir dir;
    const std::uint16_t port = free_port();
    const std::string config = listen_on(port) + hello_site("blog", R"(["blog.example"])", 1);
    VhostdProcess vhostd(dir, config);
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    // 192.0.2.1 (TEST-NET-1) is not an address of this machine: bind fails.
    ASSERT_TRUE(vhostd.reload("[[listen]]\naddress = \"192.0.2.1:80\"\n\n" + config + hello_site("shop", R"(["shop.example"])", 1)));
    EXPECT_TRUE(vhostd.wait_for_log("keeping the running configuration")) << vhostd.log();
    EXPECT_EQ(get(port, "shop.example").status(), 404) << "the new site was not added either";
    EXPECT_EQ(get(port, "blog.example").status(), 200);
}

}  // namespace
