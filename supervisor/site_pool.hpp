// One site's worker processes and the connections waiting in the front for one of them.
// Lives on the supervisor's strand: every member runs there.
#pragma once

#include "conf/config.hpp"
#include "protocol/handoff.hpp"
#include "supervisor/worker.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/io_context.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace vhostd::supervisor {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

class SitePool {
public:
    SitePool(Strand strand, conf::Site site);

    const conf::Site& site() const { return site_; }

    void start();
    void dispatch(protocol::PendingConnection connection);
    // Hands what it can, answers the rest 503, drains every worker, SIGKILLs what is left
    // after drain_timeout, then calls `done` once no worker is running.
    void stop(std::function<void()> done);

    std::size_t running_workers() const;

private:
    struct Slot {
        std::shared_ptr<Worker> worker;          // null while backing off
        unsigned quick_failures = 0;             // for the growing restart delay
        std::unique_ptr<boost::asio::steady_timer> restart_timer;
    };
    struct Waiting {
        protocol::PendingConnection connection;
        std::chrono::steady_clock::time_point deadline;
    };

    void spawn(unsigned slot);
    void schedule_restart(unsigned slot, std::chrono::steady_clock::duration ran_for);
    boost::asio::awaitable<void> read_channel(std::shared_ptr<Worker> worker);
    boost::asio::awaitable<void> watch_exit(std::shared_ptr<Worker> worker);
    void on_worker_exit(const std::shared_ptr<Worker>& worker, int wait_status);

    bool try_hand(protocol::PendingConnection& connection);
    void hand_waiting();
    void expire_waiting();
    void arm_queue_timer();
    void reject(protocol::PendingConnection connection, int retry_after, const char* why);
    void check_stopped();
    std::vector<std::string> environment(unsigned slot) const;
    std::string describe(const Worker& worker) const;

    Strand strand_;
    conf::Site site_;
    unsigned generation_ = 1;
    std::vector<Slot> slots_;
    std::vector<std::shared_ptr<Worker>> draining_;  // out of their slot, still running
    std::deque<Waiting> waiting_;
    boost::asio::steady_timer queue_timer_;
    std::size_t round_robin_ = 0;
    bool stopping_ = false;
    std::function<void()> on_stopped_;
    boost::asio::steady_timer drain_timer_;
};

}  // namespace vhostd::supervisor
