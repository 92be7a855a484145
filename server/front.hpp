// The front: public listeners and the connections in them until each is handed to a worker
// or answered. It never starts a process; it hands routed connections to a dispatcher.
#pragma once

#include "conf/config.hpp"
#include "protocol/handoff.hpp"
#include "router/site_table.hpp"
#include "server/auto_tls.hpp"
#include "server/client_counts.hpp"
#include "server/front_thread.hpp"
#include "http/request_head.hpp"
#include "server/tls_contexts.hpp"
#include "server/waiting_connection.hpp"

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vhostd::server {

class InheritedSockets;
class Listener;

// What the front needs to know of a site, by site index.
struct SiteRoute {
    std::string name;
    conf::TlsMode tls_mode = conf::TlsMode::terminate;
    bool https_redirect = false;
    bool acme = false;  // tls = "auto": its certificates are in Front::auto_tls(), by name
    bool on_demand = false;  // and names without one may get one at their handshake
};

// What a connection needs from the configuration, swapped whole on reload so that each
// connection sees one consistent version (certificates included).
struct Routing {
    router::SiteTable table;
    std::vector<SiteRoute> sites;
    http::HeadLimits limits;
    std::chrono::milliseconds head_timeout;
    ClientCaps caps;
    std::size_t tls_handshakes_per_thread = 1;  // [server] max_tls_handshakes, shared by the threads
    std::optional<std::uint16_t> https_port;  // of the first tls listener: where redirects go
    TlsContexts tls;                          // empty when no listener has tls = true
    std::chrono::milliseconds on_demand_wait{0};  // [acme] on_demand_wait
};

class Front {
public:
    // `[server] threads` front threads, each with its own event loop; the first one is
    // `main_loop`, which the caller runs (vhostd's main thread, which also hosts the
    // supervisor, so that most handoffs need no wake-up of another thread).
    Front(const conf::Config& config, protocol::ConnectionDispatcher& dispatcher, boost::asio::io_context& main_loop);
    ~Front();

    // Binds every [[listen]] address, then starts the front threads accepting; throws
    // std::runtime_error naming the address when one cannot be bound, before any accepts.
    // A listener whose address is among `inherited` takes those sockets instead of binding.
    // Without `accept`, the sockets are ready but nothing is accepted until
    // start_accepting() (a vhostd started by an upgrade, until its workers are ready).
    void start(InheritedSockets* inherited = nullptr, bool accept = true);
    void start_accepting();
    // After stop_accepting() and once connections_in_front() is 0: ends the front's own
    // threads (not the main loop).
    void finish();
    // Reload in two steps, so that the supervisor can create new sites' pools in between:
    // bind_for() binds the listeners `config` adds and throws (changing nothing) when one
    // cannot be bound or a certificate cannot be loaded; apply() then publishes the new
    // routes, limits and certificates for the next connections and opens and closes
    // listeners to match. Both run on every reload, even an unchanged config, so that
    // renewed certificate files are read again.
    void bind_for(const conf::Config& config);
    void apply(const conf::Config& config);
    void stop_accepting();

    // Upgrades. In the old vhostd: every listening socket, one fd each, to pass on; then,
    // once the new one accepts on them, release_waiting() sends every connection still
    // waiting for its first bytes (and any that starts waiting later) to `successor`, from
    // the connection's thread. In the new vhostd: adopt() takes such a connection, and one
    // the old one had routed and queued for a worker.
    std::vector<int> listening_sockets() const;
    void release_waiting(std::function<void(WaitingConnection)> successor);
    void adopt(WaitingConnection connection);
    void adopt(protocol::FileDescriptor fd, protocol::ConnectionInfo info);

    // Every thread's counters summed. Any thread.
    FrontTotals totals();
    bool listening() const { return !stopped_accepting_ && !listeners_.empty(); }

    // Connections accepted and neither handed over nor answered yet.
    std::size_t connections_in_front() const { return in_front_.load(std::memory_order_relaxed); }
    // TLS connections handed over whose bytes vhostd still relays.
    std::size_t relays() const { return relays_.load(std::memory_order_relaxed); }

    // Used by each connection.
    std::shared_ptr<const Routing> routing() const { return routing_.load(std::memory_order_acquire); }
    protocol::ConnectionDispatcher& dispatcher() { return dispatcher_; }
    ClientCounts& clients() { return clients_; }
    // The certificates and challenge answers of tls = "auto" sites (the manager fills them).
    AutoTls& auto_tls() { return auto_tls_; }
    std::uint64_t next_connection_id() { return next_id_.fetch_add(1, std::memory_order_relaxed); }

    // One more in a counter for as long as it lives, on every path out of a scope.
    class Counted {
    public:
        explicit Counted(std::atomic<std::size_t>& count) : count_(count) { count_.fetch_add(1, std::memory_order_relaxed); }
        ~Counted() { count_.fetch_sub(1, std::memory_order_relaxed); }
        Counted(const Counted&) = delete;
        Counted& operator=(const Counted&) = delete;
    private:
        std::atomic<std::size_t>& count_;
    };
    // A connection in the front: connections_in_front().
    struct Presence : Counted {
        explicit Presence(Front& front) : Counted(front.in_front_) {}
    };
    // A TLS connection being relayed: relays().
    struct Relay : Counted {
        explicit Relay(Front& front) : Counted(front.relays_) {}
    };

private:
    // By endpoint ("127.0.0.1:8080", "[::1]:8080"), so a respelled address is the same socket.
    using ListenerMap = std::map<std::string, std::unique_ptr<Listener>>;
    ListenerMap bind_missing(const std::vector<conf::Listener>& wanted);

    protocol::ConnectionDispatcher& dispatcher_;
    std::deque<boost::asio::io_context> own_loops_;  // of the threads after the first
    std::deque<FrontThread> threads_;                // deque: a FrontThread never moves
    std::vector<conf::Listener> listener_configs_;
    ListenerMap listeners_;
    ListenerMap bound_for_reload_;  // between bind_for() and apply()
    std::shared_ptr<const Routing> routing_for_reload_;
    std::vector<std::unique_ptr<Listener>> closed_listeners_;
    std::atomic<std::shared_ptr<const Routing>> routing_;
    std::atomic<std::size_t> in_front_{0};
    std::atomic<std::size_t> relays_{0};
    ClientCounts clients_;
    AutoTls auto_tls_;
    unsigned backlog_;
    bool stopped_accepting_ = false;
    std::atomic<std::size_t> next_adopting_thread_{0};
    std::atomic<std::uint64_t> next_id_{1};
};

}  // namespace vhostd::server
