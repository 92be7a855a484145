#include "server/front.hpp"

#include "server/connection.hpp"
#include "server/inherited_sockets.hpp"
#include "server/listener.hpp"

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vhostd::server {

namespace asio = boost::asio;

namespace {

// Throws std::runtime_error when a certificate cannot be loaded.
std::shared_ptr<const Routing> make_routing(const conf::Config& config) {
    auto routing = std::make_shared<Routing>(Routing{.table = router::SiteTable(config.sites), .sites = {}, .limits = {},
                                                     .head_timeout = config.server.head_timeout, .caps = {}, .https_port = {}, .tls = {}});
    for (const conf::Site& site : config.sites) routing->sites.push_back({site.name, site.tls_mode, site.https_redirect, site.acme, site.on_demand.has_value()});
    routing->on_demand_wait = std::chrono::duration_cast<std::chrono::milliseconds>(config.acme.on_demand_wait);
    routing->limits.max_head_size = config.server.max_head_size;
    routing->limits.max_request_line = std::min<std::size_t>(routing->limits.max_request_line, config.server.max_head_size);
    routing->limits.max_fields = config.server.max_header_fields;
    routing->caps = {config.server.max_waiting_heads, config.server.max_waiting_heads_per_ip, config.server.max_connections_per_ip};
    const std::size_t threads = std::max<std::size_t>(config.server.threads, 1);
    routing->tls_handshakes_per_thread = (config.server.max_tls_handshakes + threads - 1) / threads;
    const auto tls_listener = std::find_if(config.listeners.begin(), config.listeners.end(), [](const conf::Listener& l) { return l.tls; });
    if (tls_listener != config.listeners.end()) {
        routing->https_port = tls_listener->endpoint.port;
        routing->tls = TlsContexts(config.sites, routing->table.default_site());
    }
    return routing;
}

boost::asio::ip::tcp::endpoint listen_endpoint(const conf::Listener& listener) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(listener.endpoint.host, ec);
    return {ec ? boost::asio::ip::address() : address, listener.endpoint.port};
}

std::string endpoint_key(const conf::Listener& listener) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(listener.endpoint.host, ec);
    const std::string host = ec ? listener.endpoint.host : address.to_string();
    const bool v6 = !ec && address.is_v6();
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(listener.endpoint.port);
}

}  // namespace

Front::Front(const conf::Config& config, protocol::ConnectionDispatcher& dispatcher, boost::asio::io_context& main_loop)
    : dispatcher_(dispatcher), listener_configs_(config.listeners), routing_(make_routing(config)), backlog_(config.server.backlog) {
    threads_.emplace_back(main_loop);
    for (unsigned i = 1; i < config.server.threads; ++i) threads_.emplace_back(own_loops_.emplace_back(1));
}

Front::~Front() { finish(); }

Front::ListenerMap Front::bind_missing(const std::vector<conf::Listener>& wanted) {
    ListenerMap bound;
    for (const conf::Listener& config : wanted) {
        const std::string key = endpoint_key(config);
        if (!listeners_.contains(key) && !bound.contains(key)) bound.emplace(key, std::make_unique<Listener>(*this, config, backlog_, threads_));
    }
    return bound;
}

void Front::start(InheritedSockets* inherited, bool accept) {
    if (inherited != nullptr) {
        for (const conf::Listener& config : listener_configs_) {
            const std::string key = endpoint_key(config);
            if (listeners_.contains(key)) continue;
            std::vector<protocol::FileDescriptor> sockets = inherited->take(listen_endpoint(config));
            if (sockets.empty()) continue;
            spdlog::info("{}: taking over {} listening socket(s) passed to vhostd", config.address, sockets.size());
            listeners_.emplace(key, std::make_unique<Listener>(*this, config, backlog_, threads_, std::move(sockets)));
        }
    }
    listeners_.merge(bind_missing(listener_configs_));
    for (std::size_t i = 1; i < threads_.size(); ++i) threads_[i].thread = std::thread([&io = threads_[i].io] { io.run(); });
    if (accept) start_accepting();
}

void Front::start_accepting() {
    for (auto& [key, listener] : listeners_) listener->start();
}

void Front::finish() {
    for (FrontThread& thread : threads_) thread.keep_running.reset();
    for (auto& loop : own_loops_) loop.stop();
    for (FrontThread& thread : threads_) {
        if (thread.thread.joinable()) thread.thread.join();
    }
}

void Front::bind_for(const conf::Config& config) {
    // Both throw before anything changed. A new backlog applies to listeners opened from now.
    routing_for_reload_ = make_routing(config);
    backlog_ = config.server.backlog;
    bound_for_reload_ = bind_missing(config.listeners);
}

void Front::apply(const conf::Config& config) {
    const std::vector<conf::Listener>& wanted = config.listeners;
    routing_.store(routing_for_reload_ ? std::move(routing_for_reload_) : make_routing(config), std::memory_order_release);
    routing_for_reload_.reset();
    for (auto it = listeners_.begin(); it != listeners_.end();) {
        const auto kept = std::find_if(wanted.begin(), wanted.end(), [&](const conf::Listener& l) { return endpoint_key(l) == it->first; });
        if (kept != wanted.end()) {
            it->second->set_config(*kept);
            ++it;
            continue;
        }
        spdlog::info("no longer listening on {}", it->first);
        it->second->close();
        closed_listeners_.push_back(std::move(it->second));  // its accept loops still hold it until they see the close
        it = listeners_.erase(it);
    }
    for (auto& [key, listener] : bound_for_reload_) {
        listener->start();
        listeners_.emplace(key, std::move(listener));
    }
    bound_for_reload_.clear();
    listener_configs_ = wanted;
}

FrontTotals Front::totals() {
    FrontTotals totals;
    for (FrontThread& thread : threads_) thread.stats.add_to(totals);
    return totals;
}

void Front::stop_accepting() {
    stopped_accepting_ = true;
    for (auto& [address, listener] : listeners_) listener->close();
}

std::vector<int> Front::listening_sockets() const {
    std::vector<int> fds;
    for (const auto& [address, listener] : listeners_) {
        const std::vector<int> sockets = listener->sockets();
        fds.insert(fds.end(), sockets.begin(), sockets.end());
    }
    return fds;
}

void Front::release_waiting(std::function<void(WaitingConnection)> successor) {
    for (FrontThread& thread : threads_) {
        asio::post(thread.io, [&thread, successor] {
            thread.successor = successor;
            thread.deadlines.release_all();
        });
    }
}

void Front::adopt(WaitingConnection connection) {
    FrontThread& thread = threads_[next_adopting_thread_.fetch_add(1, std::memory_order_relaxed) % threads_.size()];
    asio::post(thread.io, [this, &thread, connection = std::make_shared<WaitingConnection>(std::move(connection))]() mutable {
        serve_adopted(std::move(*connection), *this, thread);
    });
}

void Front::adopt(protocol::FileDescriptor fd, protocol::ConnectionInfo info) {
    FrontThread& thread = threads_[next_adopting_thread_.fetch_add(1, std::memory_order_relaxed) % threads_.size()];
    asio::post(thread.io, [this, &thread, fd = std::make_shared<protocol::FileDescriptor>(std::move(fd)), info = std::move(info)]() mutable {
        serve_adopted(std::move(*fd), std::move(info), *this, thread);
    });
}

}  // namespace vhostd::server
