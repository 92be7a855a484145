#include "supervisor/supervisor.hpp"

#include "accesslog/access_log.hpp"

#include "supervisor/output_log.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

#include <spdlog/spdlog.h>

namespace vhostd::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Timeouts are checked at this granularity; memory is sampled every tenth tick.
constexpr auto tick_interval = 100ms;
constexpr unsigned memory_sample_every = 10;

}  // namespace

Supervisor::Supervisor(asio::io_context& io, const conf::Config& config)
    : strand_(asio::make_strand(io)), tick_timer_(strand_), server_(config.server) {
    for (const conf::Site& site : config.sites) pools_.emplace(site.name, make_pool(site));
}

conf::Site Supervisor::with_certificate_files(conf::Site site) const {
    if (site.acme && site.tls_mode == conf::TlsMode::passthrough) {
        const auto found = certificate_files_.find(site.name);
        site.certificates = found != certificate_files_.end() ? found->second : std::vector<conf::Certificate>{};
    }
    return site;
}

std::unique_ptr<SitePool> Supervisor::make_pool(const conf::Site& site) {
    return std::make_unique<SitePool>(strand_, process_host_, with_certificate_files(site),
                                      open_site_log(server_.log_dir, site.name, server_.log_max_size, server_.log_files),
                                      FrontHeadLimits{server_.max_head_size, server_.max_header_fields});
}

void Supervisor::start() {
    asio::post(strand_, [this] {
        started_ = true;
        for (auto& [name, pool] : pools_) pool->start();
        tick();
    });
}

void Supervisor::tick() {
    const auto now = Clock::now();
    const bool sample_memory = ticks_++ % memory_sample_every == 0;
    for (auto& [name, pool] : pools_) pool->tick(now, sample_memory);
    for (auto& pool : removed_pools_) pool->tick(now, false);
    tick_timer_.expires_after(tick_interval);
    tick_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) tick();
    });
}

void Supervisor::dispatch(protocol::PendingConnection connection) {
    asio::post(strand_, [this, connection = std::move(connection)]() mutable {
        const auto pool = pools_.find(connection.info.site);
        if (pool != pools_.end()) {
            pool->second->dispatch(std::move(connection));
            return;
        }
        if (stopping_ && successor_ && successor_(connection)) return;
        // Routed by the configuration a reload just replaced.
        spdlog::warn("503 to {}:{}: site {} was removed by a reload", connection.info.remote_address, connection.info.remote_port,
                     connection.info.site);
        accesslog::write({connection.info.remote_address, connection.info.remote_port, connection.info.host, connection.info.site, 0, "503", 0});
        connection.reject(std::move(connection.socket), 1, "site removed");
    });
}

void Supervisor::reload(const conf::Config& config, const conf::ConfigDiff& diff) {
    asio::post(strand_, [this, config, diff] {
        if (stopping_) return;
        ++reloads_;
        server_ = config.server;
        for (const std::string& name : diff.removed_sites) {
            auto found = pools_.find(name);
            if (found == pools_.end()) continue;
            spdlog::info("site {}: removed by reload; draining", name);
            SitePool* pool = found->second.get();
            removed_pools_.push_back(std::move(found->second));
            pools_.erase(found);
            pool->stop([this, pool] {
                // Not from inside the pool's own call stack.
                asio::post(strand_, [this, pool] {
                    std::erase_if(removed_pools_, [pool](const auto& p) { return p.get() == pool; });
                });
            });
        }
        for (const conf::Site& site : config.sites) {
            const auto in = [&site](const std::vector<std::string>& names) {
                return std::find(names.begin(), names.end(), site.name) != names.end();
            };
            if (in(diff.added_sites)) {
                spdlog::info("site {}: added by reload", site.name);
                pools_.emplace(site.name, make_pool(site)).first->second->start();
            } else if (in(diff.restarted_sites)) {
                pools_.at(site.name)->update(with_certificate_files(site), true);
            } else if (in(diff.updated_sites)) {
                spdlog::info("site {}: settings updated by reload", site.name);
                pools_.at(site.name)->update(with_certificate_files(site), false);
            }
        }
    });
}

std::vector<SiteSnapshot> Supervisor::snapshot() const {
    std::vector<SiteSnapshot> sites;
    for (const auto& [name, pool] : pools_) sites.push_back(pool->snapshot());
    return sites;
}

bool Supervisor::ready() const {
    return std::all_of(pools_.begin(), pools_.end(), [](const auto& entry) {
        const SitePool& pool = *entry.second;
        if (pool.site().min_workers == 0) return true;
        return std::any_of(pool.workers().begin(), pool.workers().end(), [](const auto& w) { return w->state() == WorkerState::ready; });
    });
}

bool Supervisor::restart_site(const std::string& name) {
    const auto found = pools_.find(name);
    if (found == pools_.end()) return false;
    found->second->restart();
    return true;
}

void Supervisor::use_certificate_files(const std::string& site, std::vector<conf::Certificate> files) {
    asio::post(strand_, [this, site, files = std::move(files)]() mutable {
        certificate_files_[site] = std::move(files);
        const auto found = pools_.find(site);
        if (found == pools_.end() || stopping_) return;
        const bool running = started_;
        // Workers load their files at start: the running ones are replaced to take the new ones.
        if (running) spdlog::info("site {}: its tls = \"auto\" certificate changed; rolling its workers to load it", site);
        found->second->update(with_certificate_files(found->second->site()), running, RestartReason::certificate);
    });
}

bool Supervisor::stop_site(const std::string& name) {
    const auto found = pools_.find(name);
    if (found == pools_.end()) return false;
    found->second->pause();
    return true;
}

bool Supervisor::start_site(const std::string& name) {
    const auto found = pools_.find(name);
    if (found == pools_.end()) return false;
    found->second->resume();
    return true;
}

void Supervisor::log_handoff_latency() const {
    LatencyHistogram all;
    for (const auto& [name, pool] : pools_) all.merge(pool->handoff_latency());
    if (all.count() == 0) return;
    auto us = [&all](double q) { return std::chrono::duration<double, std::micro>(all.quantile(q)).count(); };
    spdlog::info("handoff latency (accept to fd sent) over {} connections: p50 {:.0f} us, p90 {:.0f} us, p99 {:.0f} us, p99.9 {:.0f} us",
                 all.count(), us(0.5), us(0.9), us(0.99), us(0.999));
}

void Supervisor::stop(std::function<void()> done, Successor successor) {
    asio::post(strand_, [this, done = std::move(done), successor = std::move(successor)] {
        stopping_ = true;
        successor_ = successor;
        for (auto& [name, pool] : pools_) pool->hand_rest_to(successor);
        auto remaining = std::make_shared<std::size_t>(pools_.size() + removed_pools_.size());
        auto one_stopped = [this, remaining, done] {
            if (--*remaining != 0) return;
            tick_timer_.cancel();
            log_handoff_latency();
            done();
        };
        if (*remaining == 0) {
            tick_timer_.cancel();
            done();
            return;
        }
        for (auto& [name, pool] : pools_) pool->stop(one_stopped);
        // Pools a reload removed are draining already; this replaces their callback.
        for (auto& pool : removed_pools_) pool->stop(one_stopped);
    });
}

}  // namespace vhostd::supervisor
