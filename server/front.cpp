#include "server/front.hpp"

#include "server/listener.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vhostd::server {

namespace {

std::shared_ptr<const Routes> make_routes(const conf::Config& config) {
    std::vector<std::string> names;
    for (const conf::Site& site : config.sites) names.push_back(site.name);
    return std::make_shared<const Routes>(Routes{router::SiteTable(config.sites), std::move(names)});
}

FrontSettings make_settings(const conf::Config& config) {
    HeadLimits limits;
    limits.max_head_size = config.server.max_head_size;
    limits.max_request_line = std::min<std::size_t>(limits.max_request_line, config.server.max_head_size);
    limits.max_fields = config.server.max_header_fields;
    return {limits, config.server.head_timeout};
}

}  // namespace

Front::Front(boost::asio::io_context& io, const conf::Config& config, protocol::ConnectionDispatcher& dispatcher)
    : io_(io),
      dispatcher_(dispatcher),
      settings_(make_settings(config)),
      accept_loops_(config.server.threads),
      listener_configs_(config.listeners),
      routes_(make_routes(config)) {}

Front::~Front() = default;

void Front::start() {
    std::vector<std::unique_ptr<Listener>> bound;
    for (const conf::Listener& config : listener_configs_) {
        if (config.tls) {
            spdlog::warn("listener {}: tls = true is not supported yet; listener skipped", config.address);
            continue;
        }
        bound.push_back(std::make_unique<Listener>(*this, config));
    }
    listeners_ = std::move(bound);
    for (auto& listener : listeners_) listener->start(accept_loops_);
}

void Front::stop_accepting() {
    for (auto& listener : listeners_) listener->close();
}

}  // namespace vhostd::server
