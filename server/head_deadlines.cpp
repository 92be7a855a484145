#include "server/head_deadlines.hpp"

#include <algorithm>

namespace vhostd::server {

namespace {

// Deadlines are checked at most this often: a 408 may come this much late, and a thread
// with thousands of trickling heads wakes a bounded number of times per second.
constexpr auto sweep_granularity = std::chrono::milliseconds(20);

}  // namespace

HeadDeadlines::Entry::Entry(HeadDeadlines& owner, boost::asio::ip::tcp::socket& socket, Clock::time_point deadline, bool releasable)
    : owner_(owner), socket_(socket), deadline_(deadline), releasable_(releasable) {
    owner_.link(*this);
}

HeadDeadlines::Entry::~Entry() { owner_.unlink(*this); }

void HeadDeadlines::link(Entry& entry) {
    entry.previous_ = last_;
    (last_ != nullptr ? last_->next_ : first_) = &entry;
    last_ = &entry;
    if (entry.deadline_ < armed_for_) arm(entry.deadline_);
}

void HeadDeadlines::unlink(Entry& entry) {
    (entry.previous_ != nullptr ? entry.previous_->next_ : first_) = entry.next_;
    (entry.next_ != nullptr ? entry.next_->previous_ : last_) = entry.previous_;
}

void HeadDeadlines::release_all() {
    for (Entry* entry = first_; entry != nullptr; entry = entry->next_) {
        if (entry->expired_ || !entry->releasable_) continue;
        entry->released_ = true;
        boost::system::error_code ignored;
        entry->socket_.cancel(ignored);
    }
}

void HeadDeadlines::arm(Clock::time_point at) {
    armed_for_ = std::max(at, Clock::now() + sweep_granularity);
    timer_.expires_at(armed_for_);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) sweep();
    });
}

void HeadDeadlines::sweep() {
    armed_for_ = Clock::time_point::max();
    const auto now = Clock::now();
    Clock::time_point next = Clock::time_point::max();
    for (Entry* entry = first_; entry != nullptr; entry = entry->next_) {
        if (entry->expired_) continue;
        if (entry->deadline_ <= now) {
            entry->expired_ = true;
            boost::system::error_code ignored;
            entry->socket_.cancel(ignored);  // the connection wakes with operation_aborted
        } else {
            next = std::min(next, entry->deadline_);
        }
    }
    if (next != Clock::time_point::max()) arm(next);
}

}  // namespace vhostd::server
