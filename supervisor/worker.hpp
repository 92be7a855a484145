// One worker process of a site, as the supervisor sees it: the process, its channel, its
// place in the lifecycle table, the connections handed to it that it has not acknowledged,
// and what its heartbeats said.
#pragma once

#include "protocol/channel.hpp"
#include "protocol/handoff.hpp"
#include "supervisor/process.hpp"
#include "supervisor/worker_lifecycle.hpp"

#include <chrono>
#include <deque>
#include <optional>
#include <string>

namespace vhostd::supervisor {

using Clock = std::chrono::steady_clock;

class Worker {
public:
    Worker(ChildProcess process, protocol::Channel channel, unsigned slot, unsigned generation, Clock::time_point started_at);

    pid_t pid() const { return process_.pid; }
    // The site's singleton: started before the workers, never handed a connection.
    bool is_singleton() const { return singleton_; }
    void mark_singleton() { singleton_ = true; }
    // A failure (hung, start timeout, channel lost) led to its stop: its exit is a failure too.
    bool failed() const { return failed_; }
    void note_failure() { failed_ = true; }
    unsigned slot() const { return slot_; }
    unsigned generation() const { return generation_; }
    WorkerState state() const { return state_; }
    Clock::time_point started_at() const { return started_at_; }
    const ChildProcess& process() const { return process_; }
    protocol::Channel& channel() { return channel_; }

    // Moves along the lifecycle table; the caller carries out the returned action.
    WorkerTransition apply(WorkerEvent event);
    // When the current state's time runs out (start, drain or kill timeout), if it has one.
    Clock::time_point deadline() const { return deadline_; }
    void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }

    // Counts in the pool's size until it is marked retiring; a retiring worker keeps serving
    // until its replacement is ready.
    bool serving() const { return live() && !retiring_; }
    // Starting or ready: not yet told to drain, stop or gone.
    bool live() const { return state_ == WorkerState::starting || state_ == WorkerState::ready; }
    bool retiring() const { return retiring_ != nullptr; }
    const char* retire_reason() const { return retiring_; }
    void mark_retiring(const char* reason) { retiring_ = reason; }
    // The worker this one was started to replace (0: none); that one drains when this one
    // is ready.
    pid_t replaces() const { return replaces_; }
    pid_t& replaces_pid() { return replaces_; }  // set at the start, cleared when the pair ends
    // When max_age retires it (max() = never).
    Clock::time_point rotate_at() const { return rotate_at_; }
    void set_rotate_at(Clock::time_point at) { rotate_at_ = at; }

    // Can take one more connection now.
    bool available(unsigned max_in_flight) const {
        return state_ == WorkerState::ready && channel_usable_ && in_flight_.size() < max_in_flight;
    }
    // Lower is less busy: connections it reported active plus those on their way to it.
    std::uint64_t load() const { return active_estimate_ + in_flight_.size(); }

    // Sends the connection's fd. On success vhostd keeps a copy of the fd until the worker
    // acknowledges it, so a worker that dies first loses nothing; on failure the connection
    // is left untouched for another worker.
    boost::system::error_code hand(protocol::PendingConnection& connection, Clock::time_point now);

    // The oldest connection in flight has arrived; false if nothing was in flight.
    bool on_acknowledged();
    // The oldest unacknowledged connection, which the worker says it never got.
    std::optional<protocol::PendingConnection> on_refused();
    void on_heartbeat(const protocol::Heartbeat& heartbeat, Clock::time_point now);
    void on_channel_lost() { channel_usable_ = false; }
    // Returns the connections it never acknowledged, for another worker.
    std::deque<protocol::PendingConnection> on_exited();

    void heard_from(Clock::time_point now) { last_heard_ = now; }
    Clock::time_point last_heard() const { return last_heard_; }
    // Last moment it had a connection (for idle_timeout).
    Clock::time_point last_busy() const { return last_busy_; }
    const protocol::Heartbeat& last_heartbeat() const { return heartbeat_; }
    std::uint64_t rss_bytes() const { return rss_bytes_; }
    void set_rss_bytes(std::uint64_t bytes) { rss_bytes_ = bytes; }

private:
    ChildProcess process_;
    protocol::Channel channel_;
    unsigned slot_;
    unsigned generation_;
    WorkerState state_ = WorkerState::starting;
    const char* retiring_ = nullptr;
    pid_t replaces_ = 0;
    bool singleton_ = false;
    bool failed_ = false;
    bool channel_usable_ = true;
    Clock::time_point started_at_;
    Clock::time_point deadline_ = Clock::time_point::max();
    Clock::time_point rotate_at_ = Clock::time_point::max();
    Clock::time_point last_heard_;
    Clock::time_point last_busy_;
    std::deque<protocol::PendingConnection> in_flight_;
    protocol::Heartbeat heartbeat_;
    std::uint64_t active_estimate_ = 0;  // last heartbeat's count plus acknowledgements since
    std::uint64_t rss_bytes_ = 0;
};

// Resident set size from /proc/PID/statm; 0 when the process is gone.
std::uint64_t read_rss_bytes(pid_t pid);
// User plus system CPU time from /proc/PID/stat; 0 when the process is gone.
double read_cpu_seconds(pid_t pid);

}  // namespace vhostd::supervisor
