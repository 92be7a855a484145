// The C++ worker SDK: what a worker links to receive connections from vhostd.
//
//   asio::io_context io;
//   vhostd::sdk::Worker worker(io, [&](asio::ip::tcp::socket socket, vhostd::sdk::ConnectionInfo info,
//                                      vhostd::sdk::Worker::Lease lease) { ... serve, keep `lease` ... });
//   worker.on_drain([&] { ... close idle keep-alive connections ... });
//   worker.ready();
//   io.run();   // returns once vhostd asked to drain and every lease is gone
//
// Between a site's processes: worker.send(Recipient::singleton(), data), on_message(...),
// co_await worker.call("method", args) to the singleton, which answers with on_call(...).
//
// Each connection arrives with its request head unread, as if the worker had accepted it.
#pragma once

#include "protocol/channel.hpp"
#include "protocol/message.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <functional>
#include <map>
#include <stdexcept>
#include <memory>
#include <string>

namespace vhostd::sdk {

using protocol::ConnectionInfo;

// Who sent a bus message or a call (docs/protocol.md, section 12).
struct Sender {
    std::string role;  // "worker" or "singleton"
    unsigned slot = 0;
    int pid = 0;
};

// Where a bus message goes; never to another site.
struct Recipient {
    static Recipient singleton() { return {boost::json::value("singleton")}; }
    static Recipient one_worker() { return {boost::json::value("worker")}; }    // chosen at random
    static Recipient all_workers() { return {boost::json::value("workers")}; }  // but the sender
    static Recipient process(int pid) { return {boost::json::object{{"pid", pid}}}; }
    boost::json::value address;
};

// A call that failed: the singleton's error, none running, or no reply in time.
class CallError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

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

    // The site's singleton process (VHOSTD_ROLE=singleton): it gets no connections, only
    // messages, calls and tasks.
    static bool is_singleton();

    // The message bus between the site's processes. A message that reaches nobody comes back
    // to on_undeliverable with vhostd's reason.
    void send(const Recipient& to, boost::json::value data);
    void on_message(std::function<void(const boost::json::value& data, const Sender& from)> handler) { on_message_ = std::move(handler); }
    void on_undeliverable(std::function<void(const std::string& reason)> handler) { on_undeliverable_ = std::move(handler); }
    // Calls `method` on the site's singleton; its result, or CallError (its error, none
    // running, or no reply within `timeout`).
    boost::asio::awaitable<boost::json::value> call(std::string method, boost::json::value args = nullptr,
                                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // In the singleton: answers calls to `method`. A thrown exception is the caller's error.
    using CallHandler = std::function<boost::json::value(const boost::json::value& args, const Sender& from)>;
    void on_call(std::string method, CallHandler handler) { call_handlers_[std::move(method)] = std::move(handler); }
    // A scheduled task ([[sites.X.tasks]]) for this process.
    void on_task(std::function<void(const std::string& name)> handler) { on_task_ = std::move(handler); }

    // Counters sent with each heartbeat.
    void request_served() { ++requests_; }
    void websocket_opened() {  // its upgrade request counts as a request too
        ++websockets_;
        ++requests_;
    }
    void websocket_closed() { --websockets_; }

private:
    struct PendingCall;
    void handle_bus(std::string_view command, const boost::json::object& message);
    void answer_call(const boost::json::object& message);

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
    std::function<void(const boost::json::value&, const Sender&)> on_message_;
    std::function<void(const std::string&)> on_undeliverable_;
    std::function<void(const std::string&)> on_task_;
    std::map<std::string, CallHandler> call_handlers_;
    std::map<std::uint64_t, std::shared_ptr<PendingCall>> calls_;
    std::uint64_t next_call_id_ = 1;
};

}  // namespace vhostd::sdk
