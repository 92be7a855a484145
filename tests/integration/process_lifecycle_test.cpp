// Scenario: what a worker process gets at start, and that none outlives vhostd.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

using namespace vhostd::test;

namespace {

std::vector<std::string> open_fds(pid_t pid) {
    // Error codes, not exceptions: a descriptor may close between listing and reading it.
    std::vector<std::string> fds;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
        const auto target = std::filesystem::read_symlink(entry.path(), error);
        if (!error) fds.push_back(entry.path().filename().string() + " -> " + target.string());
    }
    std::sort(fds.begin(), fds.end());
    return fds;
}

std::string environment_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(text.begin(), text.end(), '\0', '\n');
    return "\n" + text;
}

TEST(ProcessLifecycle, WorkerGetsOnlyTheChannelStdioEnvAndCwd) {
    TempDir dir;
    std::filesystem::create_directory(dir.path() / "app");
    const std::uint16_t port = free_port();
    // `sleep` opens nothing of its own, so what it holds is what vhostd gave it.
    VhostdProcess vhostd(dir, listen_on(port) +
                                  "[sites.probe]\nhosts = [\"probe.example\"]\ncwd = \"app\"\n"
                                  "command = [\"/bin/sleep\", \"30\"]\nenv = { APP_ENV = \"test\" }\n"
                                  "drain_timeout = \"100ms\"\n");
    std::vector<pid_t> workers;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((workers = vhostd.workers()).empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(workers.size(), 1u) << vhostd.log();
    const pid_t worker = workers[0];
    const std::string proc = "/proc/" + std::to_string(worker);
    // Wait for the whole settled state rather than one sign of it: exec switches the binary,
    // closes the close-on-exec descriptors and installs the new environment in separate steps.
    auto settled = [&] {
        std::error_code gone;
        return std::filesystem::read_symlink(proc + "/exe", gone) == "/usr/bin/sleep" &&
               environment_of(worker).find("VHOSTD_SITE=") != std::string::npos && open_fds(worker).size() == 4;
    };
    while (!settled() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }

    const auto fds = open_fds(worker);
    ASSERT_EQ(fds.size(), 4u) << ::testing::PrintToString(fds) << "\nworkers now: "
                              << ::testing::PrintToString(vhostd.workers()) << "\n" << vhostd.log();
    EXPECT_EQ(fds[0], "0 -> /dev/null");
    EXPECT_EQ(fds[1].rfind("1 -> pipe:", 0), 0u) << fds[1];
    EXPECT_EQ(fds[2].rfind("2 -> pipe:", 0), 0u) << fds[2];
    EXPECT_EQ(fds[3].rfind("3 -> socket:", 0), 0u) << fds[3];

    EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(worker) + "/cwd"), dir.path() / "app");
    const std::string env = environment_of(worker);
    EXPECT_NE(env.find("\nVHOSTD_CHANNEL_FD=3\n"), std::string::npos) << env;
    EXPECT_NE(env.find("\nVHOSTD_SITE=probe\n"), std::string::npos);
    EXPECT_NE(env.find("\nVHOSTD_WORKER_SLOT=0\n"), std::string::npos);
    EXPECT_NE(env.find("\nVHOSTD_GENERATION=1\n"), std::string::npos);
    EXPECT_NE(env.find("\nVHOSTD_PROTOCOL=1\n"), std::string::npos);
    EXPECT_NE(env.find("\nAPP_ENV=test\n"), std::string::npos);
    EXPECT_EQ(::getpgid(worker), worker) << "own process group";
}

TEST(ProcessLifecycle, SigtermDrainsWorkersAndExitsZero) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 2));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example", 2)) << vhostd.log();
    const auto workers = vhostd.workers();
    ASSERT_EQ(workers.size(), 2u);

    const auto status = vhostd.stop(SIGTERM);
    ASSERT_TRUE(status) << vhostd.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << vhostd.log();
    for (pid_t worker : workers) EXPECT_TRUE(wait_until_gone(worker)) << worker;
    EXPECT_NE(vhostd.log().find("all workers stopped"), std::string::npos);
}

TEST(ProcessLifecycle, NoWorkerOutlivesAKilledVhostd) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 2) +
                                  "[sites.stubborn]\nhosts = [\"s.example\"]\n"
                                  "command = [\"/bin/sh\", \"-c\", \"trap '' TERM; exec sleep 30\"]\n");
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example", 2)) << vhostd.log();
    std::vector<pid_t> workers;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while ((workers = vhostd.workers()).size() < 3 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(workers.size(), 3u);

    ASSERT_TRUE(vhostd.stop(SIGKILL));
    for (pid_t worker : workers) EXPECT_TRUE(wait_until_gone(worker)) << "worker " << worker << " outlived vhostd";
}

TEST(ProcessLifecycle, BusyPortIsAClearErrorAndNoWorkerStarts) {
    TempDir dir;
    const std::uint16_t port = free_port();
    // Occupy the port.
    const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(holder, 1), 0);

    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 1));
    const auto status = vhostd.stop(0, std::chrono::seconds(10));  // signal 0: only wait
    ::close(holder);
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1);
    EXPECT_NE(vhostd.log().find("cannot listen on 127.0.0.1:" + std::to_string(port) + ": Address already in use"),
              std::string::npos)
        << vhostd.log();
}

}  // namespace
