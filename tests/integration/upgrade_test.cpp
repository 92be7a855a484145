// Scenario: vhostd's own binary is replaced and vhostd upgraded (vhostctl upgrade, SIGUSR2)
// under continuous load. The new process takes the listening sockets; connections still
// waiting in the old front for their head, or in a site's queue for a worker, move to it; the
// old one drains and exits. No request fails.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

using namespace vhostd::test;
namespace json = boost::json;

namespace {

// The admin endpoint's /status "server" object, or nullopt while nothing answers.
std::optional<json::object> server_status(std::uint16_t admin_port) {
    const auto answer = try_get(admin_port, "localhost", "/status");
    if (!answer || answer->status() != 200) return std::nullopt;
    boost::system::error_code ec;
    json::value status = json::parse(answer->body(), ec);
    if (ec || !status.is_object()) return std::nullopt;
    return status.as_object().at("server").as_object();
}

// Connections in the front: accepted, neither handed to a worker nor answered yet.
std::int64_t in_front(std::uint16_t admin_port) {
    const auto answer = try_get(admin_port, "localhost", "/status");
    if (!answer || answer->status() != 200) return 0;
    return json::parse(answer->body()).at("front").at("in_front").as_int64();
}

// Requests from three threads until stopped, on new connections ("Connection: close")
// and on kept-alive ones. A kept-alive request that finds its connection closed before any
// byte of an answer is sent again on a new connection, as RFC 9112 §9.3.1 lets a client do
// with a GET and as curl and browsers do; anything else short of a 200 is a failure.
class Load {
public:
    Load(std::uint16_t port, std::string host) : port_(port), host_(std::move(host)) {
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { new_connections(); });
        threads_.emplace_back([this] { kept_alive(); });
    }
    ~Load() { stop(); }

    void stop() {
        stopping_ = true;
        for (std::thread& thread : threads_) {
            if (thread.joinable()) thread.join();
        }
    }
    std::size_t served() const { return served_; }
    std::size_t retried() const { return retried_; }
    std::vector<std::string> failures() const {
        std::lock_guard lock(mutex_);
        return failures_;
    }
    bool served_by(pid_t worker) const {
        std::lock_guard lock(mutex_);
        return answered_by_.contains(worker);
    }

private:
    void note(const Exchange& answer, const char* how) {
        if (answer.status() == 200) {
            ++served_;
            std::lock_guard lock(mutex_);
            if (auto pid = pid_in(answer.body())) answered_by_.insert(*pid);
            return;
        }
        std::lock_guard lock(mutex_);
        failures_.push_back(std::string(how) + ": " + (answer.response.empty() ? "no answer" : answer.response.substr(0, 60)) +
                            (answer.reset ? " (reset)" : "") + (answer.timed_out ? " (timed out)" : ""));
    }

    void new_connections() {
        while (!stopping_) {
            try {
                note(get(port_, host_), "new connection");
            } catch (const std::exception& e) {
                failed(std::string("new connection: ") + e.what());
            }
        }
    }

    void failed(std::string what) {
        std::lock_guard lock(mutex_);
        failures_.push_back(std::move(what));
    }

    void kept_alive() {
        const std::string request = "GET / HTTP/1.1\r\nHost: " + host_ + "\r\n\r\n";
        auto complete = [](const std::string& received) {
            const auto end = received.find("\r\n\r\n");
            const auto length = received.find("Content-Length: ");
            if (end == std::string::npos || length == std::string::npos) return false;
            return received.size() >= end + 4 + std::stoul(received.substr(length + 16));
        };
        while (!stopping_) try {
            Connection connection(port_);
            for (bool reused = false; !stopping_; reused = true) {
                connection.send(request);
                Exchange answer = connection.read_until(complete, 5s);
                if (answer.response.empty() && reused) {
                    ++retried_;
                    break;  // on a new connection
                }
                note(answer, "kept-alive connection");
                if (answer.status() != 200 || answer.response.find("Connection: close") != std::string::npos) break;
            }
        } catch (const std::exception& e) {
            failed(std::string("kept-alive connection: ") + e.what());
        }
    }

    std::uint16_t port_;
    std::string host_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> served_{0};
    std::atomic<std::size_t> retried_{0};
    mutable std::mutex mutex_;
    std::vector<std::string> failures_;
    std::set<int> answered_by_;
    std::vector<std::thread> threads_;
};

// A copy of the build's vhostd that a test may replace, as a package upgrade replaces
// /usr/sbin/vhostd with a new file renamed over the old one.
std::string replaceable_vhostd(const TempDir& dir) {
    const auto path = dir.path() / "sbin" / "vhostd";
    std::filesystem::create_directories(path.parent_path());
    std::filesystem::copy_file(vhostd_binary, path);
    return path.string();
}

void replace_file(const std::string& path, const std::string& from) {
    const std::string staged = path + ".new";
    std::filesystem::copy_file(from, staged, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(staged, path);
}

std::string exe_of(pid_t pid) {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).string();
}

// `hello` with two workers; `later` has no worker until a request comes, and its worker
// starts only once the file `gate` exists (at most 30 s), so that a request for it waits in
// the site's queue across the upgrade. Heads may wait a minute: the half-sent ones must
// outlast the upgrade.
std::string config_for(std::uint16_t port, std::uint16_t admin_port, const std::string& gate, const std::string& server = "") {
    return listen_on(port) + "[server]\nhead_timeout = \"60s\"\n" + server + "\n[admin]\nlisten = \"127.0.0.1:" +
           std::to_string(admin_port) + "\"\n\n" + hello_site("hello", "[\"hello.example\"]", 2) +
           "[sites.later]\nhosts = [\"later.example\"]\ncommand = [\"/bin/sh\", \"-c\", \"for i in $(seq 600); do [ -e " + gate +
           " ] && exec " + hello_worker_binary + "; sleep 0.05; done; exit 1\"]\nmin_workers = 0\nmax_workers = 1\nqueue_timeout = \"30s\"\n" +
           "heartbeat_timeout = \"1s\"\n";  // the old vhostd's gated worker, silent, is stopped soon after it is told to drain
}

// One line of /proc/PID/status, "CapEff:\t00000000000004e0".
std::string status_line(pid_t pid, const std::string& key) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.starts_with(key + ":")) return line;
    }
    return {};
}

class Upgrade : public ::testing::Test {
protected:
    // The new vhostd is started by the old one; when that exits, the orphan comes to us, so
    // that the test can wait for it and stop it by pid.
    void SetUp() override { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
    // A test that failed before follow_upgrade() leaves the new vhostd to stop here.
    void TearDown() override {
        if (successor > 0 && (!vhostd || vhostd->pid() != successor)) {
            if (process_alive(successor)) {
                ::kill(successor, SIGTERM);
                if (!wait_until_gone(successor, 10s)) ::kill(successor, SIGKILL);
            }
            ::waitpid(successor, nullptr, 0);  // ours to reap, as the subreaper
        }
        ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    }

    // vhostd from `binary`, with `server` lines added to [server].
    VhostdProcess& start(const std::string& server = "") {
        Launch launch;
        launch.binary = binary;
        vhostd.emplace(dir, config_for(port, admin_port, gate, server), launch);
        EXPECT_TRUE(vhostd->wait_until_serving(port, "hello.example", 2)) << vhostd->log();
        return *vhostd;
    }
    std::pair<int, std::string> vhostctl_upgrade() const {
        return run_command({vhostctl_binary, "--admin", "127.0.0.1:" + std::to_string(admin_port), "upgrade"});
    }
    // The pid that answers on the admin endpoint: the new vhostd once it took over, which
    // TearDown then stops if the test could not.
    pid_t serving_pid() {
        const auto server = server_status(admin_port);
        const pid_t pid = server ? static_cast<pid_t>(server->at("pid").as_int64()) : 0;
        if (pid != 0 && vhostd && pid != vhostd->pid()) successor = pid;
        return pid;
    }

    TempDir dir;
    const std::uint16_t port = free_port();
    const std::uint16_t admin_port = free_port();
    const std::string binary = replaceable_vhostd(dir);
    const std::string gate = (dir.path() / "later-may-start").string();
    std::optional<VhostdProcess> vhostd;
    pid_t successor = 0;
};

TEST_F(Upgrade, NewBinaryTakesOverUnderLoadAndNoRequestFails) {
    VhostdProcess& vhostd = start();
    const pid_t old_pid = vhostd.pid();

    Load load(port, "hello.example");
    // Heads still incomplete in the old front when it hands over.
    std::vector<std::unique_ptr<Connection>> slow;
    for (int i = 0; i < 4; ++i) {
        slow.push_back(std::make_unique<Connection>(port));
        slow.back()->send("GET / HTTP/1.1\r\nHost: hello.example\r\n");
    }
    // A request waiting in the queue of `later` while its first worker starts.
    std::optional<Exchange> queued;
    std::jthread queued_client([&] { queued = round_trip(port, "GET / HTTP/1.1\r\nHost: later.example\r\nConnection: close\r\n\r\n", 40s); });
    ASSERT_TRUE(wait_until([&] { return in_front(admin_port) >= 4 && vhostd.log().find("site later worker 0") != std::string::npos; }))
        << vhostd.log();
    ASSERT_TRUE(wait_until([&] { return load.served() > 200; })) << vhostd.log();

    replace_file(binary, vhostd_binary);  // what a package upgrade does before asking for the upgrade
    const auto [status, output] = vhostctl_upgrade();
    ASSERT_EQ(status, 0) << output << vhostd.log();
    const pid_t new_pid = serving_pid();
    ASSERT_NE(new_pid, 0) << vhostd.log();
    ASSERT_NE(new_pid, old_pid);
    EXPECT_NE(output.find("upgraded: pid " + std::to_string(new_pid)), std::string::npos) << output;
    // The new process runs the file now at the path; the old one ran the file it replaced.
    EXPECT_EQ(exe_of(new_pid), binary);
    EXPECT_NE(exe_of(old_pid).find("(deleted)"), std::string::npos) << exe_of(old_pid);

    const auto old_status = vhostd.follow_upgrade(new_pid);
    std::ofstream(gate).put('\n');  // the new vhostd's `later` worker may start
    ASSERT_TRUE(old_status) << "the old vhostd did not exit\n" << vhostd.log();
    EXPECT_TRUE(WIFEXITED(*old_status) && WEXITSTATUS(*old_status) == 0) << vhostd.log();
    const std::vector<pid_t> new_workers = vhostd.workers();

    for (auto& connection : slow) {
        connection->send("\r\n");
        const Exchange answer = connection->read_until([](const std::string& r) { return r.find("\n", r.find("\r\n\r\n")) != std::string::npos; });
        EXPECT_EQ(answer.status(), 200) << answer.response << vhostd.log();
        const auto pid = pid_in(answer.body());
        EXPECT_TRUE(pid && std::find(new_workers.begin(), new_workers.end(), *pid) != new_workers.end())
            << "a head that was waiting in the old front is served by a worker of the new vhostd: " << answer.response;
    }
    queued_client.join();
    ASSERT_TRUE(queued);
    EXPECT_EQ(queued->status(), 200) << queued->response << vhostd.log();
    EXPECT_TRUE(wait_until([&] {
        const auto now = vhostd.workers();
        const auto pid = pid_in(queued->body());
        return pid && std::find(now.begin(), now.end(), *pid) != now.end();
    })) << "the request queued in the old vhostd is served by the new one's worker: " << queued->response;

    ASSERT_TRUE(wait_until([&] {
        return std::any_of(new_workers.begin(), new_workers.end(), [&](pid_t worker) { return load.served_by(worker); });
    })) << "the load reaches the new workers";
    load.stop();
    EXPECT_TRUE(load.failures().empty()) << load.failures().size() << " failed, first: " << load.failures().front() << "\n" << vhostd.log();
    std::cout << "[ upgrade  ] " << load.served() << " requests served, " << load.retried()
              << " kept-alive requests sent again on a new connection, 0 failed\n";
    EXPECT_GT(vhostd.count_in_log("upgrade: the old vhostd has exited; it passed "), 0u) << vhostd.log();
}

TEST_F(Upgrade, SignalUsr2UpgradesToo) {
    VhostdProcess& vhostd = start();
    const pid_t old_pid = vhostd.pid();
    ::kill(old_pid, SIGUSR2);
    pid_t new_pid = 0;
    ASSERT_TRUE(wait_until([&] {
        new_pid = serving_pid();
        return new_pid != 0 && new_pid != old_pid;
    })) << vhostd.log();
    ASSERT_TRUE(vhostd.follow_upgrade(new_pid)) << vhostd.log();
    EXPECT_EQ(get(port, "hello.example").status(), 200);
    // Stopped by pid like any vhostd: SIGTERM, and its workers go with it.
    const std::vector<pid_t> workers = vhostd.workers();
    const auto status = vhostd.stop(SIGTERM);
    ASSERT_TRUE(status) << vhostd.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    for (pid_t worker : workers) EXPECT_TRUE(wait_until_gone(worker)) << worker;
}

TEST_F(Upgrade, ANewBinaryThatFailsLeavesTheOldOneServing) {
    VhostdProcess& vhostd = start();

    const auto broken = dir.write("broken-vhostd", "#!/bin/sh\necho 'cannot start: a broken build' >&2\nexit 3\n");
    std::filesystem::permissions(broken, std::filesystem::perms::owner_all);
    replace_file(binary, broken.string());
    const auto [status, output] = vhostctl_upgrade();
    EXPECT_EQ(status, 1) << output;
    EXPECT_NE(output.find("upgrade failed: the new vhostd (pid"), std::string::npos) << output;
    EXPECT_NE(output.find("exited before it was ready"), std::string::npos) << output;

    // Still the old process, still serving, and it may try again.
    EXPECT_EQ(serving_pid(), vhostd.pid());
    EXPECT_EQ(get(port, "hello.example").status(), 200);
    replace_file(binary, vhostd_binary);
    const auto [again, again_output] = vhostctl_upgrade();
    EXPECT_EQ(again, 0) << again_output << vhostd.log();
    const pid_t new_pid = serving_pid();
    ASSERT_NE(new_pid, vhostd.pid());
    ASSERT_TRUE(vhostd.follow_upgrade(new_pid)) << vhostd.log();
}

TEST_F(Upgrade, StoppingDuringAnUpgradeStopsTheNewVhostdToo) {
    VhostdProcess& vhostd = start();
    // A new binary that never says ready: the upgrade is still in progress when vhostd is stopped.
    const auto stuck = dir.write("stuck-vhostd", "#!/bin/sh\nexec sleep 60\n");
    std::filesystem::permissions(stuck, std::filesystem::perms::owner_all);
    replace_file(binary, stuck.string());
    const Exchange started = round_trip(admin_port, "POST /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    ASSERT_EQ(started.status(), 202) << started.response;
    const pid_t stuck_pid = static_cast<pid_t>(json::parse(started.body()).at("pid").as_int64());
    successor = stuck_pid;
    ASSERT_TRUE(wait_until([&] { return exe_of(stuck_pid).find("sleep") != std::string::npos; })) << exe_of(stuck_pid);

    const auto status = vhostd.stop(SIGTERM);
    ASSERT_TRUE(status) << vhostd.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << vhostd.log();
    EXPECT_TRUE(wait_until_gone(stuck_pid, 15s)) << "the new vhostd of an upgrade called off is stopped with the old one";
}

TEST_F(Upgrade, AVhostdRunningAsAnUnprivilegedUserUpgradesAndKeepsItsCapabilities) {
    const passwd* nobody = ::getpwnam("nobody");
    if (::geteuid() != 0 || nobody == nullptr) GTEST_SKIP() << "needs root and the user nobody";
    const std::string uid = std::to_string(nobody->pw_uid);
    std::filesystem::permissions(dir.path(), std::filesystem::perms::all);  // the new vhostd reads its config as nobody
    VhostdProcess& vhostd = start("user = \"nobody\"\n");
    ASSERT_EQ(status_line(vhostd.pid(), "CapEff"), "CapEff:\t00000000000004e0") << vhostd.log();

    // The new vhostd is exec'd by a process that is nobody already: it must keep the four
    // capabilities across exec, and its workers must get none.
    const auto [status, output] = vhostctl_upgrade();
    ASSERT_EQ(status, 0) << output << vhostd.log();
    const pid_t new_pid = serving_pid();
    ASSERT_TRUE(vhostd.follow_upgrade(new_pid)) << vhostd.log();
    EXPECT_TRUE(std::regex_search(status_line(new_pid, "Uid"), std::regex("Uid:\\s+" + uid + "\\s+" + uid + "\\s+" + uid)))
        << status_line(new_pid, "Uid");
    EXPECT_EQ(status_line(new_pid, "CapEff"), "CapEff:\t00000000000004e0");
    EXPECT_EQ(status_line(new_pid, "CapAmb"), "CapAmb:\t0000000000000000") << "its workers would inherit ambient capabilities";
    ASSERT_TRUE(vhostd.wait_until_serving(port, "hello.example", 2)) << vhostd.log();
    const std::vector<pid_t> workers = vhostd.workers();
    ASSERT_FALSE(workers.empty());
    for (pid_t worker : workers) EXPECT_EQ(status_line(worker, "CapEff"), "CapEff:\t0000000000000000") << "worker " << worker;
}

}  // namespace
