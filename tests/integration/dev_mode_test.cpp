// Scenario: development mode. Changes under a watched directory roll the site's workers once
// the changes settle: a burst of saves rolls them once, not once per file.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

using namespace vhostd::test;

namespace {

void save(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

std::optional<int> answering_pid(std::uint16_t port) {
    const auto answer = try_get(port, "blog.example");
    return answer ? pid_in(answer->body()) : std::nullopt;
}

}  // namespace

TEST(DevMode, ABurstOfSavesUnderAWatchedDirectoryRollsTheWorkerOnce) {
    TempDir dir;
    std::filesystem::create_directories(dir.path() / "app" / "views");
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 1,
                                                           "watch = [\"app\"]\nwatch_debounce = \"300ms\"\n"));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    const auto before = answering_pid(port);
    ASSERT_TRUE(before);

    // Ten saves 30 ms apart, in two directories (one made after the start): one settled change.
    std::filesystem::create_directories(dir.path() / "app" / "new");
    for (int i = 0; i < 10; ++i) {
        save(dir.path() / "app" / (i % 2 ? "views" : "new") / ("page" + std::to_string(i) + ".html"), "v" + std::to_string(i));
        std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the burst itself, not a wait for a condition
    }
    std::optional<int> after;
    ASSERT_TRUE(wait_until([&] {
        after = answering_pid(port);
        return after && *after != *before;
    })) << vhostd.log();
    // The old worker drains and exits; by then any second roll for the burst would be logged.
    ASSERT_TRUE(vhostd.wait_for_log("(pid " + std::to_string(*before) + "): exited with code 0")) << vhostd.log();
    EXPECT_EQ(vhostd.count_in_log("changed; rolling its workers"), 1u) << vhostd.log();
}

TEST(DevMode, DevFlagRunsOneWorkerPerSiteAndWatchesItsDirectory) {
    TempDir dir;
    std::filesystem::create_directories(dir.path() / "site");
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 3, "cwd = \"site\"\nwatch_debounce = \"100ms\"\n"),
                         {"--dev"});
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    ASSERT_TRUE(wait_until([&] { return vhostd.workers().size() == 1; })) << vhostd.log();
    const auto before = answering_pid(port);
    save(dir.path() / "site" / "app.py", "print('changed')\n");
    std::optional<int> after;
    ASSERT_TRUE(wait_until([&] {
        after = answering_pid(port);
        return after && before && *after != *before;
    })) << vhostd.log();
    // The old worker drains away once the new one serves: one worker again, not two.
    EXPECT_TRUE(wait_until([&] { return vhostd.workers().size() == 1; })) << vhostd.log();
}
