// One front thread: its own event loop, the connections it accepted (they never move to
// another thread), and their head deadlines. One loop per thread, as nginx and HAProxy do:
// no locking between connections, and the kernel spreads accepts over the threads
// (SO_REUSEPORT).
#pragma once

#include "server/front_stats.hpp"
#include "server/head_deadlines.hpp"
#include "server/log_throttle.hpp"
#include "server/tls_handshakes.hpp"
#include "server/waiting_connection.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <optional>
#include <thread>

namespace vhostd::server {

struct FrontThread {
    explicit FrontThread(boost::asio::io_context& loop) : io(loop), deadlines(loop), keep_running(loop.get_executor()) {}

    boost::asio::io_context& io;
    HeadDeadlines deadlines;
    TlsHandshakes handshakes;
    FrontStats stats;
    // Refusals a flood repeats thousands of times a second: one log line per interval each.
    LogThrottle over_limit_log{std::chrono::seconds(10)};
    LogThrottle dropped_handshake_log{std::chrono::seconds(10)};
    // Keeps run() going while no connection is open, until the front finishes.
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> keep_running;
    std::thread thread;  // not started for the first front thread: vhostd's main thread runs it
    // Set by an upgrade: where connections still waiting for their first bytes go.
    std::function<void(WaitingConnection)> successor;
};

}  // namespace vhostd::server
