// How a site pool reaches its processes and the time: the one seam between SitePool's
// decisions and the operating system, so that a test can drive the pool with processes and
// a clock of its own. SystemProcessHost is the real one. The pool's asio timers still run on
// the steady clock: those set from now() (the backoff's end, the queue's deadlines) then only
// wake the pool at other moments, and tick() does what they would.
#pragma once

#include "supervisor/process.hpp"

#include <chrono>

namespace vhostd::supervisor {

class ProcessHost {
public:
    virtual ~ProcessHost() = default;

    virtual std::chrono::steady_clock::time_point now() const = 0;
    // Starts a process as spawn_process() does (and throws as it does). Its pidfd must become
    // readable when the process exits.
    virtual ChildProcess start(const ProcessSpec& spec) = 0;
    // As signal_process_group(): only before reap().
    virtual void signal(const ChildProcess& child, int signal) = 0;
    // Collects a process whose pidfd became readable: its wait status.
    virtual int reap(const ChildProcess& child) = 0;
};

class SystemProcessHost final : public ProcessHost {
public:
    std::chrono::steady_clock::time_point now() const override;
    ChildProcess start(const ProcessSpec& spec) override;
    void signal(const ChildProcess& child, int signal) override;
    int reap(const ChildProcess& child) override;
};

}  // namespace vhostd::supervisor
