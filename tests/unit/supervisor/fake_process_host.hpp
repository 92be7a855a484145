// A ProcessHost for tests: a clock that moves only when told, and processes that are only
// records. What a started "process" gets is real where SitePool needs it to be: its pidfd is
// an eventfd that exit() makes readable, its output pipes are pipes, and the host keeps a
// duplicate of the channel's child end, on which the test plays the worker.
#pragma once

#include "protocol/file_descriptor.hpp"
#include "supervisor/process_host.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace vhostd::supervisor::testing {

struct FakeProcess {
    pid_t pid = -1;
    ProcessSpec spec;
    protocol::FileDescriptor channel;     // the worker's end: the test reads and writes it
    protocol::FileDescriptor exit_event;  // the eventfd handed as the pidfd
    std::vector<int> signals;             // in the order the pool sent them
    int exit_status = 0;                  // what reap() returns
    bool exited = false;
    bool reaped = false;

    bool got_signal(int signal) const;
};

class FakeProcessHost final : public ProcessHost {
public:
    // Far from the real steady clock's now, so that no timer the pool sets from now() ever
    // fires by itself: only tick() moves the pool on.
    static constexpr auto epoch = std::chrono::steady_clock::time_point(std::chrono::hours(24 * 365 * 100));

    std::chrono::steady_clock::time_point now() const override { return now_; }
    ChildProcess start(const ProcessSpec& spec) override;
    void signal(const ChildProcess& child, int signal) override;
    int reap(const ChildProcess& child) override;

    void advance(std::chrono::steady_clock::duration by) { now_ += by; }
    // The process ends with `wait_status` (as waitpid reports it): the pool sees its pidfd.
    void exit(FakeProcess& process, int wait_status);

    // Every process started, oldest first; they stay after their reap.
    const std::vector<std::unique_ptr<FakeProcess>>& processes() const { return processes_; }
    FakeProcess& process(std::size_t index) { return *processes_.at(index); }
    std::size_t started() const { return processes_.size(); }
    // What the pool did that a real process would not allow (a signal after the reap, a reap
    // before the exit). Recorded rather than thrown: the pool calls from detached coroutines.
    const std::vector<std::string>& misuse() const { return misuse_; }

private:
    FakeProcess* find(const ChildProcess& child, const char* what);

    std::chrono::steady_clock::time_point now_ = epoch;
    std::vector<std::unique_ptr<FakeProcess>> processes_;
    std::vector<std::string> misuse_;
};

}  // namespace vhostd::supervisor::testing
