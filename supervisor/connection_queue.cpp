#include "supervisor/connection_queue.hpp"

#include <algorithm>

namespace vhostd::supervisor {

const char* to_string(RejectReason reason) {
    switch (reason) {
        case RejectReason::queue_full: return "queue full";
        case RejectReason::stopping: return "site is stopping";
        case RejectReason::paused: return "site stopped by the admin endpoint";
        case RejectReason::quarantined: return "site quarantined after repeated crashes";
        case RejectReason::queue_timeout: return "no worker ready within queue_timeout";
        case RejectReason::refused_too_often: return "workers did not receive its descriptor";
    }
    return "no worker available";
}

void ConnectionQueue::push_back(protocol::PendingConnection connection, Clock::time_point now, Clock::duration timeout) {
    // Never before the last one's: the timeout may have been shortened by a reload.
    auto deadline = now + timeout;
    if (!waiting_.empty()) deadline = std::max(deadline, waiting_.back().deadline);
    waiting_.push_back({std::move(connection), deadline, now});
}

void ConnectionQueue::push_front(protocol::PendingConnection connection, Clock::time_point now, Clock::duration timeout) {
    auto deadline = now + timeout;
    if (!waiting_.empty()) deadline = std::min(deadline, waiting_.front().deadline);
    waiting_.push_front({std::move(connection), deadline, now});
}

ConnectionQueue::Waiting ConnectionQueue::pop_front() { return take(0); }

ConnectionQueue::Waiting ConnectionQueue::take(std::size_t index) {
    Waiting taken = std::move(waiting_[index]);
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(index));
    return taken;
}

std::optional<ConnectionQueue::Waiting> ConnectionQueue::pop_expired(Clock::time_point now) {
    if (waiting_.empty() || waiting_.front().deadline > now) return std::nullopt;
    return pop_front();
}

std::optional<ConnectionQueue::Clock::time_point> ConnectionQueue::next_deadline() const {
    if (waiting_.empty()) return std::nullopt;
    return waiting_.front().deadline;
}

}  // namespace vhostd::supervisor
