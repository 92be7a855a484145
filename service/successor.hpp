// The vhostd that takes over from this one in an upgrade (SIGUSR2 or POST /upgrade), as
// nginx does on USR2: the binary at the path this one was started from (a package upgrade
// may have replaced it), with the same arguments, handed every listening socket as systemd
// hands them (LISTEN_FDS) and a channel back to this process (VHOSTD_UPGRADE_FD).
#pragma once

#include "protocol/file_descriptor.hpp"
#include "protocol/handoff.hpp"
#include "server/waiting_connection.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace vhostd::service {

class Successor {
public:
    // Starts it; throws std::runtime_error when it cannot be started.
    Successor(boost::asio::io_context& io, const std::string& binary, const std::vector<std::string>& arguments,
              const std::vector<int>& sockets);
    ~Successor();
    Successor(const Successor&) = delete;
    Successor& operator=(const Successor&) = delete;

    pid_t pid() const { return pid_; }

    // Calls `done` once, on the io_context: with an empty string when the new vhostd said it
    // is ready, else with why not (it exited, said something else, or was not ready within
    // `timeout`). A new vhostd that failed is stopped (SIGTERM, then SIGKILL) and reaped in
    // the background.
    void wait_until_ready(std::chrono::seconds timeout, std::function<void(std::string failure)> done);
    bool ready() const { return ready_; }
    // vhostd is stopping before the new one was ready: it is stopped too, and `done` is
    // never called.
    void abandon();

    // Any thread, once ready. Passes a connection on; false when the channel is broken
    // (and it stays so: a stalled new vhostd costs one send timeout, not one per
    // connection), the connection still the caller's to answer.
    bool pass(server::WaitingConnection& connection);
    bool pass(protocol::PendingConnection& connection);

private:
    void read_ready(std::shared_ptr<std::function<void(std::string)>> done);
    void fail(const std::shared_ptr<std::function<void(std::string)>>& done, const std::string& why);
    bool send(const std::string& line, int fd);

    pid_t pid_ = -1;
    boost::asio::posix::stream_descriptor channel_;
    boost::asio::steady_timer ready_timer_;
    std::mutex send_mutex_;
    std::atomic<bool> broken_{false};
    bool settled_ = false;
    bool ready_ = false;
};

}  // namespace vhostd::service
