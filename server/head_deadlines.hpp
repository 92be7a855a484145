// The head_timeout of every connection of one front thread that is still waiting for its
// head, kept in one list and swept by one timer: a pending connection costs a list node in
// its coroutine frame instead of a timer and a wait on two operations. Single-threaded: all
// of it runs on the front thread that owns the connections.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

namespace vhostd::server {

class HeadDeadlines {
public:
    using Clock = std::chrono::steady_clock;

    // A connection's deadline, alive while the connection waits. When it passes, the
    // socket's pending wait is cancelled and expired() turns true. A `releasable` one is
    // woken the same way by release_all(), with released() true.
    class Entry {
    public:
        Entry(HeadDeadlines& owner, boost::asio::ip::tcp::socket& socket, Clock::time_point deadline, bool releasable = false);
        ~Entry();
        Entry(const Entry&) = delete;
        Entry& operator=(const Entry&) = delete;

        bool expired() const { return expired_; }
        bool released() const { return released_; }

    private:
        friend class HeadDeadlines;
        HeadDeadlines& owner_;
        boost::asio::ip::tcp::socket& socket_;
        Clock::time_point deadline_;
        bool expired_ = false;
        bool releasable_;
        bool released_ = false;
        Entry* previous_ = nullptr;
        Entry* next_ = nullptr;
    };

    explicit HeadDeadlines(boost::asio::io_context& io) : timer_(io) {}

    // An upgrade: wakes every releasable connection that has not expired, so that it goes to
    // the new vhostd instead of waiting here.
    void release_all();

private:
    void link(Entry& entry);
    void unlink(Entry& entry);
    void arm(Clock::time_point at);
    void sweep();

    boost::asio::steady_timer timer_;
    Entry* first_ = nullptr;
    Entry* last_ = nullptr;
    Clock::time_point armed_for_ = Clock::time_point::max();
};

}  // namespace vhostd::server
