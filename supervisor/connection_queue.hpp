// The connections of one site waiting for a worker, oldest first, each with its deadline; and
// the one list of reasons a connection is answered 503.
//
// Deadlines never decrease from front to back, so that only the front's needs watching: a
// connection put back first (refused by a worker, or left unread by one that died) is due no
// later than the one it goes before.
#pragma once

#include "protocol/handoff.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>

namespace vhostd::supervisor {

// Why a site answers a connection 503 rather than handing it to a worker.
enum class RejectReason {
    queue_full,
    stopping,           // vhostd is stopping
    paused,             // by the admin endpoint
    quarantined,        // after repeated crashes
    queue_timeout,      // no worker became ready in time
    refused_too_often,  // workers said its fd never reached them
};

// What the 503 and the log say.
const char* to_string(RejectReason reason);

class ConnectionQueue {
public:
    using Clock = std::chrono::steady_clock;

    struct Waiting {
        protocol::PendingConnection connection;
        Clock::time_point deadline;
        Clock::time_point since;  // when it started waiting here
    };

    bool empty() const { return waiting_.empty(); }
    std::size_t size() const { return waiting_.size(); }
    Waiting& front() { return waiting_.front(); }
    Waiting& at(std::size_t index) { return waiting_[index]; }
    auto begin() const { return waiting_.begin(); }
    auto end() const { return waiting_.end(); }

    // A new connection, last in line, due at now + timeout.
    void push_back(protocol::PendingConnection connection, Clock::time_point now, Clock::duration timeout);
    // A connection to hand again, first in line, due at now + timeout or with the one it goes
    // before, whichever comes first.
    void push_front(protocol::PendingConnection connection, Clock::time_point now, Clock::duration timeout);
    Waiting pop_front();
    // Taking one out of the middle keeps the order of deadlines.
    Waiting take(std::size_t index);
    // The front's, if it is due at `now`.
    std::optional<Waiting> pop_expired(Clock::time_point now);
    // When the front is due; nullopt when nothing waits.
    std::optional<Clock::time_point> next_deadline() const;

private:
    std::deque<Waiting> waiting_;
};

}  // namespace vhostd::supervisor
