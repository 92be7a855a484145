// One worker process of a site, as the supervisor sees it: the process, its channel, the
// connections handed to it that it has not acknowledged yet, and what its heartbeats said.
#pragma once

#include "protocol/channel.hpp"
#include "protocol/handoff.hpp"
#include "supervisor/process.hpp"

#include <chrono>
#include <deque>
#include <string>

namespace vhostd::supervisor {

enum class WorkerState {
    starting,  // spawned, has not said ready: gets no connections
    ready,     // gets connections
    draining,  // told to finish and exit: gets no new connections
    exited,    // reaped
};

const char* to_string(WorkerState state);

class Worker {
public:
    Worker(ChildProcess process, protocol::Channel channel, unsigned slot, unsigned generation);

    pid_t pid() const { return process_.pid; }
    unsigned slot() const { return slot_; }
    unsigned generation() const { return generation_; }
    WorkerState state() const { return state_; }
    std::chrono::steady_clock::time_point started_at() const { return started_at_; }
    const ChildProcess& process() const { return process_; }
    protocol::Channel& channel() { return channel_; }

    // Can take one more connection now.
    bool available(unsigned max_in_flight) const {
        return state_ == WorkerState::ready && channel_usable_ && in_flight_.size() < max_in_flight;
    }
    // Lower is less busy: connections it reported active plus those on their way to it.
    std::uint64_t load() const { return active_estimate_ + in_flight_.size(); }

    // Sends the connection's fd. On success the worker keeps a copy of the fd until the
    // worker acknowledges it, so a worker that dies first loses nothing; on failure the
    // connection is left untouched for another worker.
    boost::system::error_code hand(protocol::PendingConnection& connection);

    void on_ready() { if (state_ == WorkerState::starting) state_ = WorkerState::ready; }
    // The oldest connection in flight has arrived; false if nothing was in flight.
    bool on_acknowledged();
    void on_heartbeat(const protocol::Heartbeat& heartbeat);
    void on_channel_lost() { channel_usable_ = false; }
    void start_draining();
    // Returns the connections it never acknowledged, for another worker.
    std::deque<protocol::PendingConnection> on_exited();

    std::uint64_t requests_served() const { return heartbeat_.requests; }

private:
    ChildProcess process_;
    protocol::Channel channel_;
    unsigned slot_;
    unsigned generation_;
    WorkerState state_ = WorkerState::starting;
    bool channel_usable_ = true;
    std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
    std::deque<protocol::PendingConnection> in_flight_;
    protocol::Heartbeat heartbeat_;
    std::uint64_t active_estimate_ = 0;  // last heartbeat's count plus acknowledgements since
};

}  // namespace vhostd::supervisor
