#include "supervisor/supervisor.hpp"

#include <boost/asio/post.hpp>

namespace vhostd::supervisor {

namespace asio = boost::asio;

Supervisor::Supervisor(asio::io_context& io, const conf::Config& config) : strand_(asio::make_strand(io)) {
    for (const conf::Site& site : config.sites) pools_.push_back(std::make_unique<SitePool>(strand_, site));
}

void Supervisor::start() {
    asio::post(strand_, [this] {
        for (auto& pool : pools_) pool->start();
    });
}

void Supervisor::dispatch(std::size_t site_index, protocol::PendingConnection connection) {
    asio::post(strand_, [this, site_index, connection = std::move(connection)]() mutable {
        pools_.at(site_index)->dispatch(std::move(connection));
    });
}

void Supervisor::stop(std::function<void()> done) {
    asio::post(strand_, [this, done = std::move(done)] {
        auto remaining = std::make_shared<std::size_t>(pools_.size());
        if (*remaining == 0) {
            done();
            return;
        }
        for (auto& pool : pools_) {
            pool->stop([remaining, done] {
                if (--*remaining == 0) done();
            });
        }
    });
}

}  // namespace vhostd::supervisor
