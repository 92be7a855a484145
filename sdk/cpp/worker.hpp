// The C++ worker SDK: what a worker links to receive connections from vhostd.
//
//   asio::io_context io;
//   vhostd::sdk::Worker worker(io, [&](asio::ip::tcp::socket socket, vhostd::sdk::ConnectionInfo info,
//                                      vhostd::sdk::Worker::Lease lease) { ... serve, keep `lease` ... });
//   worker.on_drain([&] { ... close idle keep-alive connections ... });
//   worker.ready();
//   io.run();   // returns once vhostd asked to drain and every lease is gone
//
// Each connection arrives with its request head unread, as if the worker had accepted it.
#pragma once

#include "protocol/channel.hpp"
#include "protocol/message.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>

namespace vhostd::sdk {

using protocol::ConnectionInfo;

class Worker {
public:
    // Keeps the worker's count of active connections right: hold it as long as the connection.
    class Lease {
    public:
        Lease() = default;
        explicit Lease(std::shared_ptr<Worker*> owner);
        Lease(Lease&&) noexcept = default;
        Lease& operator=(Lease&&) noexcept = default;
        ~Lease();
    private:
        std::shared_ptr<Worker*> owner_;
    };

    using ConnectionHandler = std::function<void(boost::asio::ip::tcp::socket, ConnectionInfo, Lease)>;

    // True when this process was started by vhostd (the channel fd is in the environment).
    static bool started_by_vhostd();

    // Takes the channel named by the environment; throws std::runtime_error when there is none.
    Worker(boost::asio::io_context& io, ConnectionHandler on_connection);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    const std::string& site() const { return site_; }

    // Tells vhostd this worker can serve; connections come only after this.
    void ready();
    // Called once when vhostd asks the worker to finish (or goes away): stop taking new
    // requests on kept-alive connections. The io_context is stopped when the last lease ends.
    void on_drain(std::function<void()> callback) { on_drain_ = std::move(callback); }
    bool draining() const { return draining_; }

    // Counters sent with each heartbeat.
    void request_served() { ++requests_; }
    void websocket_opened() { ++websockets_; }
    void websocket_closed() { --websockets_; }

private:
    boost::asio::awaitable<void> receive_loop();
    boost::asio::awaitable<void> heartbeat_loop();
    void start_draining();
    void finish_if_idle();
    void connection_ended();

    boost::asio::io_context& io_;
    ConnectionHandler on_connection_;
    std::function<void()> on_drain_;
    protocol::Channel channel_;
    boost::asio::steady_timer heartbeat_timer_;
    std::chrono::milliseconds heartbeat_interval_;
    std::string site_;
    std::shared_ptr<Worker*> self_;  // leases outliving the Worker see nullptr
    std::uint64_t active_ = 0;
    std::uint64_t requests_ = 0;
    std::uint64_t websockets_ = 0;
    bool draining_ = false;
    bool finished_ = false;
};

}  // namespace vhostd::sdk
