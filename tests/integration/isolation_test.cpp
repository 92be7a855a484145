// Scenario: what a site's processes may leave behind or use: grandchildren die with their
// worker, output goes to the site's own log file, limits and the user apply.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

using namespace vhostd::test;

namespace {

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
}

TEST(Isolation, GrandchildDiesWithItsWorker) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + test_site("parent", R"(["parent.example"])", "--fork-grandchild"));
    ASSERT_TRUE(vhostd.wait_for_log("grandchild ")) << vhostd.log();
    std::smatch match;
    const std::string log = vhostd.log();
    ASSERT_TRUE(std::regex_search(log, match, std::regex(R"(grandchild (\d+))")));
    const pid_t grandchild = std::stoi(match[1].str());
    ASSERT_TRUE(process_alive(grandchild));
    const pid_t worker = vhostd.workers().at(0);

    ASSERT_EQ(::kill(worker, SIGKILL), 0);
    EXPECT_TRUE(wait_until_gone(grandchild)) << "grandchild " << grandchild << " outlived its worker";
}

TEST(Isolation, WorkerOutputGoesToTheSitesOwnLogFile) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + "[server]\nlog_dir = \"logs\"\n\n" + hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    EXPECT_TRUE(wait_until([&] { return read_text(dir.path() / "logs" / "blog.log").find("hello-worker for site blog ready") != std::string::npos; }))
        << read_text(dir.path() / "logs" / "blog.log");
}

TEST(Isolation, SiteLogFilesRotateBySize) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + "[server]\nlog_dir = \"logs\"\nlog_max_size = \"64KiB\"\nlog_files = 2\n\n" +
                                  test_site("chatty", R"(["chatty.example"])", "--chatty 3000"),
                         {"--log-level", "warn"});
    const auto current = dir.path() / "logs" / "chatty.log";
    const auto rotated = dir.path() / "logs" / "chatty.1.log";
    ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(rotated); })) << vhostd.log();
    EXPECT_LE(std::filesystem::file_size(rotated), 64u * 1024);
    EXPECT_LE(std::filesystem::file_size(current), 64u * 1024);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "logs" / "chatty.2.log")) << "log_files = 2 keeps two files";
}

TEST(Isolation, ResourceLimitsApplyToTheWorker) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 1,
                                                           "limits = { open_files = 256, address_space = \"2GiB\" }"));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    const std::string limits = read_text("/proc/" + std::to_string(vhostd.workers().at(0)) + "/limits");
    EXPECT_TRUE(std::regex_search(limits, std::regex(R"(Max open files\s+256\s+256)"))) << limits;
    EXPECT_TRUE(std::regex_search(limits, std::regex(R"(Max address space\s+2147483648\s+2147483648)"))) << limits;
}

TEST(Isolation, WorkerRunsAsTheConfiguredUser) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody'";
    TempDir dir;
    std::filesystem::permissions(dir.path(), std::filesystem::perms::all);  // the worker's cwd
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 1, "user = \"nobody\""));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    const std::string status = read_text("/proc/" + std::to_string(vhostd.workers().at(0)) + "/status");
    const std::string uid = std::to_string(nobody->pw_uid);
    EXPECT_TRUE(std::regex_search(status, std::regex("Uid:\\s+" + uid + "\\s+" + uid))) << status;
}

TEST(Isolation, WorkerWithAnotherUserStillDiesWithVhostd) {
    if (::geteuid() != 0 || ::getpwnam("nobody") == nullptr) GTEST_SKIP() << "needs root and the user 'nobody'";
    TempDir dir;
    std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 1, "user = \"nobody\""));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    const pid_t worker = vhostd.workers().at(0);
    ASSERT_TRUE(vhostd.stop(SIGKILL));
    EXPECT_TRUE(wait_until_gone(worker)) << "switching user must not lose the parent-death signal";
}

TEST(Isolation, UnknownUserIsLoggedAsAStartFailure) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 1, "user = \"no-such-user-here\""));
    EXPECT_TRUE(vhostd.wait_for_log(::geteuid() == 0 ? "unknown user 'no-such-user-here'" : "user/group need vhostd to run as root"))
        << vhostd.log();
}

}  // namespace
