// The front: public listeners and the connections in them until each is handed to a worker
// or answered. It never starts a process; it hands routed connections to a dispatcher.
#pragma once

#include "conf/config.hpp"
#include "protocol/handoff.hpp"
#include "router/site_table.hpp"
#include "server/request_head.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace vhostd::server {

class Listener;

// What routing needs, swapped whole on reload so a connection sees one consistent version.
struct Routes {
    router::SiteTable table;
    std::vector<std::string> site_names;  // by site index
};

struct FrontSettings {
    HeadLimits limits;
    std::chrono::milliseconds head_timeout;
};

class Front {
public:
    Front(boost::asio::io_context& io, const conf::Config& config, protocol::ConnectionDispatcher& dispatcher);
    ~Front();

    // Binds every [[listen]] address and starts accepting; throws std::runtime_error naming the
    // address when one cannot be bound, before any is accepting.
    void start();
    void stop_accepting();

    // Connections accepted and neither handed over nor answered yet.
    std::size_t connections_in_front() const { return in_front_.load(std::memory_order_relaxed); }

    // Used by each connection.
    const FrontSettings& settings() const { return settings_; }
    std::shared_ptr<const Routes> routes() const { return routes_.load(std::memory_order_acquire); }
    protocol::ConnectionDispatcher& dispatcher() { return dispatcher_; }
    std::uint64_t next_connection_id() { return next_id_.fetch_add(1, std::memory_order_relaxed); }
    boost::asio::io_context& io() { return io_; }

    // Keeps connections_in_front() right on every path out of a connection.
    class Presence {
    public:
        explicit Presence(Front& front) : front_(front) { front_.in_front_.fetch_add(1, std::memory_order_relaxed); }
        ~Presence() { front_.in_front_.fetch_sub(1, std::memory_order_relaxed); }
        Presence(const Presence&) = delete;
        Presence& operator=(const Presence&) = delete;
    private:
        Front& front_;
    };

private:
    boost::asio::io_context& io_;
    protocol::ConnectionDispatcher& dispatcher_;
    FrontSettings settings_;
    unsigned accept_loops_;
    std::vector<conf::Listener> listener_configs_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::atomic<std::shared_ptr<const Routes>> routes_;
    std::atomic<std::size_t> in_front_{0};
    std::atomic<std::uint64_t> next_id_{1};
};

}  // namespace vhostd::server
