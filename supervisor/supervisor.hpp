// Every site's worker pool. Implements the front's ConnectionDispatcher: routed connections
// arrive here from any front thread and are handed on the supervisor's strand.
#pragma once

#include "conf/config.hpp"
#include "protocol/handoff.hpp"
#include "supervisor/site_pool.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace vhostd::supervisor {

class Supervisor final : public protocol::ConnectionDispatcher {
public:
    Supervisor(boost::asio::io_context& io, const conf::Config& config);

    void start();
    void dispatch(std::size_t site_index, protocol::PendingConnection connection) override;
    // Drains every site; `done` runs on the strand once no worker is left.
    void stop(std::function<void()> done);

private:
    Strand strand_;
    std::vector<std::unique_ptr<SitePool>> pools_;  // by site index, as in the config
};

}  // namespace vhostd::supervisor
