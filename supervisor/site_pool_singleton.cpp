// The site's singleton: started before the workers, never handed a connection, never
// rotated, restarted with a backoff of its own after failures. Its failures never quarantine
// the site: the workers go on serving without it.
#include "supervisor/pool_log.hpp"
#include "supervisor/site_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <spdlog/spdlog.h>

namespace vhostd::supervisor {

namespace asio = boost::asio;

void SitePool::spawn_singleton(Clock::time_point now) {
    if (singleton_ || stopping_ || !site_.singleton) return;
    singleton_ = start_process(0, true, now);
    if (!singleton_) {
        on_singleton_exit(nullptr, 0);
        return;
    }
    asio::co_spawn(strand_, read_channel(singleton_), asio::detached);
    asio::co_spawn(strand_, watch_exit(singleton_), asio::detached);
}

// `singleton` is null when it could not even start.
void SitePool::on_singleton_exit(const std::shared_ptr<Worker>& singleton, int wait_status) {
    const auto now = host_.now();
    bool failed = true;
    if (singleton) {
        failed = singleton->failed() || (singleton->state() != WorkerState::draining && singleton->state() != WorkerState::stopping);
        spdlog::log(failed ? spdlog::level::err : spdlog::level::info, "{}: {} after {} ms", describe(*singleton),
                    describe_exit(wait_status), milliseconds(now - singleton->started_at()));
        apply(*singleton, WorkerEvent::exited, now);
        bus_.forget(*singleton);
        if (singleton == singleton_) singleton_.reset();
        // The backoff resets only after a healthy run, not on ready: one that crashes right
        // after saying ready must still back off.
        singleton_backoff_.note_run(now - singleton->started_at());
    }
    if (stopping_ || !site_.singleton) {
        check_stopped();
        return;
    }
    auto delay = Clock::duration::zero();
    if (failed) {
        ++singleton_failures_;
        delay = singleton_backoff_.next_delay(site_.singleton->restart_backoff);
        spdlog::warn("site {}: singleton starts again in {} ms ({} failures so far)", site_.name, milliseconds(delay), singleton_failures_);
    }
    singleton_timer_.expires_after(delay);
    singleton_timer_.async_wait([this, alive = std::weak_ptr<void>(alive_)](boost::system::error_code ec) {
        if (!ec && !alive.expired()) spawn_singleton(host_.now());
    });
}

}  // namespace vhostd::supervisor
