// Scenario: vhostd run by systemd as a Type=notify service with a watchdog, and with socket
// activation. systemd is not PID 1 here: the test plays its part, with a datagram socket for
// $NOTIFY_SOCKET and listening sockets passed as LISTEN_FDS.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

using namespace vhostd::test;

namespace {

// systemd's end of the notify protocol: every datagram vhostd sends, in order. A thread
// reads them as they come, as systemd does: a full queue would block vhostd's sends.
class FakeSystemd {
public:
    explicit FakeSystemd(const TempDir& dir) : path_((dir.path() / "notify").string()) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) throw std::runtime_error("notify socket");
        reader_ = std::thread([this] { read(); });
    }
    ~FakeSystemd() {
        stopping_ = true;
        reader_.join();
        ::close(fd_);
    }

    std::string environment() const { return "NOTIFY_SOCKET=" + path_; }

    // The first datagram from the `from`-th on that contains `needle`, or nullopt after `timeout`.
    std::optional<std::string> wait_for(const std::string& needle, std::size_t& from, std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex_);
        std::optional<std::string> found;
        arrived_.wait_for(lock, timeout, [&] {
            for (; from < received_.size(); ++from) {
                if (received_[from].find(needle) != std::string::npos) {
                    found = received_[from++];
                    return true;
                }
            }
            return false;
        });
        return found;
    }

    std::string all() const {
        std::lock_guard lock(mutex_);
        std::string text;
        for (const std::string& datagram : received_) text += "[" + datagram + "]\n";
        return text;
    }

private:
    void read() {
        while (!stopping_) {
            pollfd readable{fd_, POLLIN, 0};
            if (::poll(&readable, 1, 50) <= 0) continue;
            char datagram[4096];
            const ssize_t got = ::recv(fd_, datagram, sizeof datagram, 0);
            if (got <= 0) continue;
            std::lock_guard lock(mutex_);
            received_.emplace_back(datagram, static_cast<std::size_t>(got));
            arrived_.notify_all();
        }
    }

    std::string path_;
    int fd_ = -1;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<std::string> received_;
    std::thread reader_;
};

Launch with_environment(std::vector<std::string> environment) {
    Launch launch;
    launch.environment = std::move(environment);
    return launch;
}

// A listening TCP socket on 127.0.0.1:`port`, as systemd's .socket unit would open it, at an
// fd above the ones it will be passed as.
int listening_socket(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 64) != 0) {
        throw std::runtime_error(std::string("listening socket: ") + std::strerror(errno));
    }
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 20);
    ::close(fd);
    return high;
}

TEST(Systemd, NotifiesReadyWhenWorkersAreReadyReloadingAroundReloadsStoppingAndWatchdog) {
    TempDir dir;
    FakeSystemd systemd(dir);
    const std::uint16_t port = free_port();
    const std::string config = listen_on(port) + hello_site("blog", "[\"blog.example\"]", 2);
    VhostdProcess vhostd(dir, config, with_environment({systemd.environment(), "WATCHDOG_USEC=200000"}));

    std::size_t next = 0;
    const auto ready = systemd.wait_for("READY=1", next);
    ASSERT_TRUE(ready) << systemd.all() << vhostd.log();
    EXPECT_NE(ready->find("STATUS=serving: 1 sites"), std::string::npos) << *ready;
    // READY=1 comes once the workers are: the first request after it is served, no retry.
    EXPECT_EQ(get(port, "blog.example").status(), 200) << vhostd.log();
    EXPECT_EQ(vhostd.workers().size(), 2u);

    // WATCHDOG_USEC=200 ms: a ping every 100 ms.
    for (int ping = 0; ping < 3; ++ping) {
        EXPECT_TRUE(systemd.wait_for("WATCHDOG=1", next, 5s)) << "ping " << ping << "\n" << systemd.all();
    }

    ASSERT_TRUE(vhostd.reload(config + hello_site("shop", "[\"shop.example\"]", 1))) << vhostd.log();
    const auto reloading = systemd.wait_for("RELOADING=1", next);
    ASSERT_TRUE(reloading) << systemd.all();
    EXPECT_NE(reloading->find("MONOTONIC_USEC="), std::string::npos) << *reloading;
    const auto ready_again = systemd.wait_for("READY=1", next);
    ASSERT_TRUE(ready_again) << systemd.all();
    EXPECT_NE(ready_again->find("STATUS=serving: 2 sites"), std::string::npos) << *ready_again;

    ASSERT_TRUE(vhostd.stop(SIGTERM));
    EXPECT_TRUE(systemd.wait_for("STOPPING=1", next, 1s)) << systemd.all();
}

TEST(Systemd, WithoutWatchdogOrForAnotherProcessNoPings) {
    TempDir dir;
    FakeSystemd systemd(dir);
    const std::uint16_t port = free_port();
    // WATCHDOG_PID names another process: the pings are not this one's to send (sd_watchdog_enabled).
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", "[\"blog.example\"]", 1),
                         with_environment({systemd.environment(), "WATCHDOG_USEC=100000", "WATCHDOG_PID=1"}));
    std::size_t next = 0;
    ASSERT_TRUE(systemd.wait_for("READY=1", next)) << systemd.all() << vhostd.log();
    std::size_t from_start = 0;
    EXPECT_FALSE(systemd.wait_for("WATCHDOG=1", from_start, 500ms)) << systemd.all();
}

TEST(Systemd, SocketActivationServesOnThePassedSocketAndClosesOnesNoListenerNames) {
    TempDir dir;
    const std::uint16_t port = free_port();
    const std::uint16_t unnamed_port = free_port();
    const int named = listening_socket(port);
    const int unnamed = listening_socket(unnamed_port);
    // The test keeps its copies bound without SO_REUSEPORT: vhostd could not bind the port
    // itself, so serving proves it took the socket it was given.
    Launch launch;
    launch.listen_fds = {named, unnamed};
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", "[\"blog.example\"]", 1), launch);
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_for_log("127.0.0.1:" + std::to_string(port) + ": taking over 1 listening socket(s)")) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_for_log("no [[listen]] for the socket on 127.0.0.1:" + std::to_string(unnamed_port))) << vhostd.log();

    ::close(named);
    ::close(unnamed);
    EXPECT_EQ(get(port, "blog.example").status(), 200) << "vhostd holds the socket itself";
    EXPECT_FALSE(try_get(unnamed_port, "blog.example")) << "nobody listens on the socket vhostd closed";
}

TEST(Systemd, SocketsMeantForAnotherProcessAreNotTaken) {
    TempDir dir;
    const std::uint16_t port = free_port();
    const int held = listening_socket(port);
    // LISTEN_PID names another process (a parent's variables, inherited): vhostd binds
    // itself, and the port is taken.
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", "[\"blog.example\"]", 1),
                         with_environment({"LISTEN_PID=1", "LISTEN_FDS=1"}));
    const auto status = vhostd.stop(0, 10s);  // signal 0: only wait for the exit
    ASSERT_TRUE(status) << vhostd.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << vhostd.log();
    EXPECT_NE(vhostd.log().find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos) << vhostd.log();
    ::close(held);
}

}  // namespace
