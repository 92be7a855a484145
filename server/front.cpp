#include "server/front.hpp"

#include "server/listener.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vhostd::server {

namespace {

std::shared_ptr<const Routing> make_routing(const conf::Config& config) {
    std::vector<std::string> names;
    for (const conf::Site& site : config.sites) names.push_back(site.name);
    HeadLimits limits;
    limits.max_head_size = config.server.max_head_size;
    limits.max_request_line = std::min<std::size_t>(limits.max_request_line, config.server.max_head_size);
    limits.max_fields = config.server.max_header_fields;
    return std::make_shared<const Routing>(Routing{router::SiteTable(config.sites), std::move(names), limits, config.server.head_timeout});
}

// TLS listeners come with SNI routing; until then they are refused loudly, not half-served.
std::vector<conf::Listener> plain_listeners(const std::vector<conf::Listener>& listeners) {
    std::vector<conf::Listener> plain;
    for (const conf::Listener& listener : listeners) {
        if (listener.tls) {
            spdlog::warn("listener {}: tls = true is not supported yet; listener skipped", listener.address);
        } else {
            plain.push_back(listener);
        }
    }
    return plain;
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
    : dispatcher_(dispatcher), listener_configs_(plain_listeners(config.listeners)), routing_(make_routing(config)) {
    threads_.emplace_back(main_loop);
    for (unsigned i = 1; i < config.server.threads; ++i) threads_.emplace_back(own_loops_.emplace_back(1));
}

Front::~Front() { finish(); }

Front::ListenerMap Front::bind_missing(const std::vector<conf::Listener>& wanted) {
    ListenerMap bound;
    for (const conf::Listener& config : wanted) {
        const std::string key = endpoint_key(config);
        if (!listeners_.contains(key) && !bound.contains(key)) bound.emplace(key, std::make_unique<Listener>(*this, config, threads_));
    }
    return bound;
}

void Front::start() {
    listeners_ = bind_missing(listener_configs_);
    for (auto& [key, listener] : listeners_) listener->start();
    for (std::size_t i = 1; i < threads_.size(); ++i) threads_[i].thread = std::thread([&io = threads_[i].io] { io.run(); });
}

void Front::finish() {
    for (FrontThread& thread : threads_) thread.keep_running.reset();
    for (auto& loop : own_loops_) loop.stop();
    for (FrontThread& thread : threads_) {
        if (thread.thread.joinable()) thread.thread.join();
    }
}

void Front::bind_for(const conf::Config& config) {
    bound_for_reload_ = bind_missing(plain_listeners(config.listeners));  // throws before anything changed
}

void Front::apply(const conf::Config& config) {
    const std::vector<conf::Listener> wanted = plain_listeners(config.listeners);
    routing_.store(make_routing(config), std::memory_order_release);
    for (auto it = listeners_.begin(); it != listeners_.end();) {
        const bool kept = std::any_of(wanted.begin(), wanted.end(), [&](const conf::Listener& l) { return endpoint_key(l) == it->first; });
        if (kept) {
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

}  // namespace vhostd::server
