// A real vhostd started for one test, with its config and log in a temp dir. The destructor
// stops it (SIGTERM, then SIGKILL) and any worker it left behind, by pid.
#pragma once

#include "tests/integration/support/temp_dir.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace vhostd::test {

using namespace std::chrono_literals;

// How a test starts vhostd beyond its config: as systemd or an upgrade would.
struct Launch {
    std::vector<std::string> environment;  // "NAME=value", added to the test's own
    std::vector<int> listen_fds;           // passed as fds 3, 4, ... with LISTEN_FDS and vhostd's LISTEN_PID
    std::string binary;                    // a copy of vhostd elsewhere; empty: the build's
};

class VhostdProcess {
public:
    VhostdProcess(const TempDir& dir, const std::string& config_text, const std::vector<std::string>& extra_args = {});
    VhostdProcess(const TempDir& dir, const std::string& config_text, const Launch& launch,
                  const std::vector<std::string>& extra_args = {});
    ~VhostdProcess();
    VhostdProcess(const VhostdProcess&) = delete;
    VhostdProcess& operator=(const VhostdProcess&) = delete;

    pid_t pid() const { return pid_; }
    std::string log() const;
    std::vector<pid_t> workers() const;  // current child processes

    // Polls GETs for `host` until one answers 200 and `count` distinct workers answered.
    bool wait_until_serving(std::uint16_t port, const std::string& host, std::size_t count = 1,
                            std::chrono::milliseconds timeout = 10s);
    bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout = 10s) const;
    std::size_t count_in_log(const std::string& needle) const;

    // Replaces the config file and sends SIGHUP; returns once the reload was logged.
    bool reload(const std::string& config_text, std::chrono::milliseconds timeout = 10s);

    // Sends `signal` and waits for the exit; returns the wait status, or nullopt on timeout.
    std::optional<int> stop(int signal, std::chrono::milliseconds timeout = 15s);

    // After an upgrade: waits for this vhostd to exit (its wait status, or nullopt on
    // timeout), then stands for `successor`, which the test must have as a child: it calls
    // prctl(PR_SET_CHILD_SUBREAPER) first, so that the orphaned successor is reparented to it.
    std::optional<int> follow_upgrade(pid_t successor, std::chrono::milliseconds timeout = 30s);

private:
    std::string config_path_;
    std::string log_path_;
    pid_t pid_ = -1;
    mutable std::vector<pid_t> seen_workers_;
};

// Another program a test starts (HAProxy, say), stopped by pid when the guard goes: SIGTERM,
// then SIGKILL if it is still there after 5 s. Output goes to `output_path`.
class BackgroundProcess {
public:
    BackgroundProcess(const std::vector<std::string>& argv, const std::string& output_path);
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;
    pid_t pid() const { return pid_; }

private:
    pid_t pid_;
};

// Run a command (no shell), capture stdout+stderr, return {exit status, output}.
std::pair<int, std::string> run_command(const std::vector<std::string>& argv);

// Polls `condition` until it holds or `timeout` passes.
template <typename Condition>
bool wait_until(Condition condition, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

std::size_t open_fd_count(pid_t pid);
std::size_t zombie_children_of(pid_t parent);

// Alive and not a zombie.
bool process_alive(pid_t pid);
bool wait_until_gone(pid_t pid, std::chrono::milliseconds timeout = 5s);
std::vector<pid_t> children_of(pid_t parent);

}  // namespace vhostd::test
