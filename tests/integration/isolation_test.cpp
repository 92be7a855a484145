// Scenario: what a site's processes may leave behind or use: grandchildren die with their
// worker, output goes to the site's own log file, limits and the user apply.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/test_pki.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
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
    // Rotation renames files while the worker still writes: read both sizes in one moment
    // when both files are there (failed once in CI between the two calls).
    std::uintmax_t rotated_size = 0;
    std::uintmax_t current_size = 0;
    ASSERT_TRUE(wait_until([&] {
        std::error_code rotated_error, current_error;
        rotated_size = std::filesystem::file_size(rotated, rotated_error);
        current_size = std::filesystem::file_size(current, current_error);
        return !rotated_error && !current_error;
    })) << vhostd.log();
    EXPECT_LE(rotated_size, 64u * 1024);
    EXPECT_LE(current_size, 64u * 1024);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "logs" / "chatty.2.log")) << "log_files = 2 keeps two files";
}

TEST(Isolation, ResourceLimitsApplyToTheWorker) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "a sanitizer build's workers reserve terabytes of shadow memory, which RLIMIT_AS forbids";
#endif
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

namespace {

// The socket inodes a process holds ("socket:[1234]" links in /proc/PID/fd).
std::set<std::string> socket_inodes(pid_t pid) {
    std::set<std::string> inodes;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
        if (target.starts_with("socket:")) inodes.insert(target);
    }
    return inodes;
}

std::string environment_of(pid_t pid) {
    std::string text = read_text("/proc/" + std::to_string(pid) + "/environ");
    std::replace(text.begin(), text.end(), '\0', '\n');
    return text;
}

std::string status_line(pid_t pid, const std::string& key) {
    std::istringstream status(read_text("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(status, line);) {
        if (line.starts_with(key + ":")) return line;
    }
    return {};
}

// A port below 1024 that is free on 127.0.0.1 now (binding it needs root).
std::uint16_t free_privileged_port() {
    for (std::uint16_t port = 1000; port > 600; --port) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        ::close(fd);
        if (bound) return port;
    }
    return 0;
}

TEST(Isolation, WorkersHoldNoneOfTheFrontsSocketsNorAnotherSitesChannelNorKeys) {
    TempDir dir;
    const TestPki pki(dir.path());
    const auto blog_cert = pki.issue("blog", {"blog.example"});
    const auto shop_cert = pki.issue("shop", {"shop.example"});
    const std::uint16_t port = free_port();
    const std::uint16_t tls_port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + "[[listen]]\naddress = \"127.0.0.1:" + std::to_string(tls_port) + "\"\ntls = true\n\n" +
                                  hello_site("blog", R"(["blog.example"])", 2,
                                             "tls = { cert = \"" + blog_cert.cert + "\", key = \"" + blog_cert.key + "\" }") +
                                  hello_site("shop", R"(["shop.example"])", 1,
                                             "tls = { cert = \"" + shop_cert.cert + "\", key = \"" + shop_cert.key +
                                                 "\" }\ntls_mode = \"passthrough\""));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example", 2)) << vhostd.log();
    ASSERT_TRUE(vhostd.wait_until_serving(port, "shop.example")) << vhostd.log();

    const std::set<std::string> front = socket_inodes(vhostd.pid());
    std::set<std::string> seen;
    for (const pid_t worker : vhostd.workers()) {
        const std::set<std::string> own = socket_inodes(worker);
        EXPECT_FALSE(own.empty()) << "the channel at fd 3";
        for (const std::string& inode : own) {
            EXPECT_FALSE(front.contains(inode)) << "worker " << worker << " holds one of vhostd's sockets: " << inode;
            EXPECT_TRUE(seen.insert(inode).second) << "two workers share a socket: " << inode;
        }
        const std::string environment = environment_of(worker);
        if (environment.find("VHOSTD_SITE=blog\n") != std::string::npos) {
            // Terminate mode: vhostd does TLS; the worker learns no key path.
            EXPECT_EQ(environment.find("VHOSTD_TLS_KEY="), std::string::npos) << environment;
        } else {
            EXPECT_NE(environment.find("VHOSTD_TLS_KEY=" + shop_cert.key + "\n"), std::string::npos) << environment;
            EXPECT_EQ(environment.find(blog_cert.key), std::string::npos) << "another site's key";
        }
    }
}

TEST(Isolation, VhostdBindsAPrivilegedPortThenRunsAsAnUnprivilegedUser) {
    // getpwnam() returns a static buffer: take each uid before the next call.
    const passwd* nobody = ::getpwnam("nobody");
    const uid_t nobody_uid = nobody ? nobody->pw_uid : 0;
    const passwd* daemon_user = ::getpwnam("daemon");
    const uid_t daemon_uid = daemon_user ? daemon_user->pw_uid : 0;
    if (::geteuid() != 0 || nobody == nullptr || daemon_user == nullptr) GTEST_SKIP() << "needs root and the users nobody and daemon";
    const std::uint16_t port = free_privileged_port();
    const std::uint16_t second_port = free_privileged_port() - 1;
    ASSERT_GT(second_port, 0) << "no free port below 1024";
    TempDir dir;
    std::filesystem::permissions(dir.path(), std::filesystem::perms::all);  // the workers' cwd
    const std::string sites = hello_site("blog", R"(["blog.example"])", 1) +                      // runs as vhostd's user
                              hello_site("shop", R"(["shop.example"])", 1, "user = \"daemon\"");  // switched by CAP_SETUID
    const std::string config = listen_on(port) + "[server]\nuser = \"nobody\"\n\n" + sites;
    VhostdProcess vhostd(dir, config);
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    ASSERT_TRUE(vhostd.wait_until_serving(port, "shop.example")) << vhostd.log();

    const std::string uid = std::to_string(nobody_uid);
    EXPECT_TRUE(std::regex_search(status_line(vhostd.pid(), "Uid"), std::regex("Uid:\\s+" + uid + "\\s+" + uid + "\\s+" + uid)))
        << status_line(vhostd.pid(), "Uid");
    // CAP_KILL (5), CAP_SETGID (6), CAP_SETUID (7), CAP_NET_BIND_SERVICE (10): nothing else.
    EXPECT_EQ(status_line(vhostd.pid(), "CapEff"), "CapEff:\t00000000000004e0");
    for (const pid_t worker : vhostd.workers()) {
        EXPECT_EQ(status_line(worker, "CapEff"), "CapEff:\t0000000000000000") << "worker " << worker;
        const bool shop = environment_of(worker).find("VHOSTD_SITE=shop\n") != std::string::npos;
        const std::string expected = std::to_string(shop ? daemon_uid : nobody_uid);
        EXPECT_TRUE(std::regex_search(status_line(worker, "Uid"), std::regex("Uid:\\s+" + expected + "\\s"))) << status_line(worker, "Uid");
    }

    // A reload can still open a privileged port, and a worker of another user is replaced.
    ASSERT_TRUE(vhostd.reload(listen_on(port) + listen_on(second_port) + "[server]\nuser = \"nobody\"\n\n" + sites)) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_until_serving(second_port, "blog.example")) << vhostd.log();
    for (const pid_t worker : vhostd.workers()) ::kill(worker, SIGKILL);
    EXPECT_TRUE(vhostd.wait_until_serving(port, "shop.example")) << vhostd.log();

    // Shutdown signals workers of both users and ends cleanly.
    const std::vector<pid_t> workers = vhostd.workers();
    const auto status = vhostd.stop(SIGTERM);
    ASSERT_TRUE(status && WIFEXITED(*status)) << vhostd.log();
    EXPECT_EQ(WEXITSTATUS(*status), 0) << vhostd.log();
    for (const pid_t worker : workers) EXPECT_TRUE(wait_until_gone(worker));
}

}  // namespace
