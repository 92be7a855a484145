// Every site's worker pool, and the clock that drives their timeouts. Implements the front's
// ConnectionDispatcher: routed connections arrive here from any front thread and are handed
// on the supervisor's strand.
#pragma once

#include "conf/config.hpp"
#include "conf/config_diff.hpp"
#include "protocol/handoff.hpp"
#include "supervisor/process_host.hpp"
#include "supervisor/site_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace vhostd::supervisor {

class Supervisor final : public protocol::ConnectionDispatcher {
public:
    Supervisor(boost::asio::io_context& io, const conf::Config& config);

    void start();
    void dispatch(protocol::PendingConnection connection) override;
    // Applies a new, already validated configuration: new sites start, removed sites drain,
    // changed sites roll or update in place. Thread-safe.
    void reload(const conf::Config& config, const conf::ConfigDiff& diff);
    // Drains every site; `done` runs on the strand once no worker is left. With a
    // `successor` (an upgrade), connections that would be answered 503 because the sites
    // are stopping (waiting for a worker, or routed from now on) are offered to it first;
    // one it does not take (returns false) is answered 503 as usual.
    using Successor = std::function<bool(protocol::PendingConnection&)>;
    void stop(std::function<void()> done, Successor successor = {});

    // For the admin endpoint, which runs on the same single-threaded io_context as the
    // supervisor's strand, so these are called there directly.
    std::vector<SiteSnapshot> snapshot() const;
    unsigned reloads() const { return reloads_; }
    // Every site not stopped has a ready worker, or may have none (min_workers = 0).
    bool ready() const;
    // false when there is no such site.
    bool restart_site(const std::string& name);
    bool stop_site(const std::string& name);
    // The chain and key files of a passthrough tls = "auto" site, for its workers' TLS: kept
    // across reloads, and its workers are rolled (one at a time, max_surge) when they change.
    void use_certificate_files(const std::string& site, std::vector<conf::Certificate> files);
    bool start_site(const std::string& name);

private:
    void tick();
    void log_handoff_latency() const;
    std::unique_ptr<SitePool> make_pool(const conf::Site& site);
    // `site` with the certificate files vhostd obtained for it, if it is a passthrough auto site.
    conf::Site with_certificate_files(conf::Site site) const;

    Strand strand_;
    boost::asio::steady_timer tick_timer_;
    unsigned ticks_ = 0;
    conf::ServerSettings server_;
    SystemProcessHost process_host_;  // before the pools, which use it until they are gone
    std::map<std::string, std::unique_ptr<SitePool>, std::less<>> pools_;
    std::vector<std::unique_ptr<SitePool>> removed_pools_;  // draining after a reload removed their site
    bool stopping_ = false;
    Successor successor_;
    unsigned reloads_ = 0;
    std::map<std::string, std::vector<conf::Certificate>> certificate_files_;  // by site
    bool started_ = false;
};

}  // namespace vhostd::supervisor
