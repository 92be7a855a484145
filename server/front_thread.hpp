// One front thread: its own event loop, the connections it accepted (they never move to
// another thread), and their head deadlines. One loop per thread, as nginx and HAProxy do:
// no locking between connections, and the kernel spreads accepts over the threads
// (SO_REUSEPORT).
#pragma once

#include "server/head_deadlines.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>
#include <thread>

namespace vhostd::server {

struct FrontThread {
    boost::asio::io_context io{1};
    HeadDeadlines deadlines{io};
    // Keeps run() going while no connection is open, until the front finishes.
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> keep_running{io.get_executor()};
    std::thread thread;
};

}  // namespace vhostd::server
