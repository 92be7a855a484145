#include "apps/vhostd/daemon.hpp"

#include "accesslog/access_log.hpp"
#include "admin/prometheus.hpp"
#include "admin/status_json.hpp"
#include "apps/build_info.hpp"
#include "conf/config_diff.hpp"
#include "conf/dev_mode.hpp"
#include "conf/loader.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <csignal>
#include <filesystem>

namespace vhostd::apps {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Calls `then` once `busy` returns 0, or at `give_up`.
void when_idle(asio::io_context& io, std::function<std::size_t()> busy, std::chrono::steady_clock::time_point give_up,
               std::function<void()> then) {
    if (busy() == 0 || std::chrono::steady_clock::now() >= give_up) {
        then();
        return;
    }
    auto timer = std::make_shared<asio::steady_timer>(io, 20ms);
    timer->async_wait([&io, busy = std::move(busy), give_up, then = std::move(then), timer](boost::system::error_code) mutable {
        when_idle(io, std::move(busy), give_up, std::move(then));
    });
}

// SIGHUP and POST /reload: build the whole new configuration first; if anything is wrong the
// running one keeps serving untouched (as nginx and HAProxy do).
admin::ReloadOutcome reload(const std::string& path, bool dev, conf::Config& running, server::Front& front,
                            supervisor::Supervisor& supervisor, acme::CertificateManager& certificates) {
    admin::ReloadOutcome outcome;
    auto loaded = conf::load_config_file(path);
    if (auto* errors = std::get_if<std::vector<conf::ConfigError>>(&loaded)) {
        for (const auto& error : *errors) {
            spdlog::error("reload: {}", error.to_string());
            outcome.errors.push_back(error.to_string());
        }
        spdlog::error("reload: {} error(s); keeping the running configuration", errors->size());
        return outcome;
    }
    conf::Config& next = std::get<conf::Config>(loaded);
    if (dev) conf::apply_dev_mode(next);
    const conf::ConfigDiff diff = conf::diff_configs(running, next);
    outcome.ok = true;
    // Reopened on every reload, changed or not, so that logrotate can move the file away
    // and send SIGHUP, as with nginx.
    open_access_log(next.server);
    // Listeners and certificates first: certificate files are read again on every reload,
    // changed config or not, so that renewed ones take effect (as with nginx -s reload).
    try {
        front.bind_for(next);
        // Names that auto sites gain are loaded or ordered, those they lose are dropped.
        certificates.configure(next);
    } catch (const std::exception& e) {
        spdlog::error("reload: {}; keeping the running configuration", e.what());
        return {false, {}, {e.what()}};
    }
    if (diff.empty()) {
        front.apply(next);
        outcome.summary = "no changes";
        spdlog::info("reload: no changes; certificates read again");
        return outcome;
    }
    if (next.server.threads != running.server.threads) spdlog::warn("reload: [server] threads takes effect at the next start");
    if (diff.admin_changed) spdlog::warn("reload: [admin] takes effect at the next start");
    if (next.server.user != running.server.user || next.server.group != running.server.group) {
        spdlog::warn("reload: [server] user and group take effect at the next start");
    }
    // Pools first (queued on the supervisor's strand), routes second: a connection routed
    // to a new site finds its pool.
    supervisor.reload(next, diff);
    front.apply(next);
    outcome.summary = std::to_string(diff.added_sites.size()) + " sites added, " + std::to_string(diff.removed_sites.size()) +
                      " removed, " + std::to_string(diff.restarted_sites.size()) + " rolled, " +
                      std::to_string(diff.updated_sites.size()) + " updated; " + std::to_string(diff.added_listeners.size()) +
                      " listeners added, " + std::to_string(diff.removed_listeners.size()) + " removed";
    spdlog::info("reload: {}", outcome.summary);
    running = std::move(next);
    return outcome;
}

}  // namespace

bool open_access_log(const conf::ServerSettings& server) {
    if (server.access_log.empty()) {
        accesslog::close();
        return true;
    }
    try {
        accesslog::open(server.access_log, server.access_log_json);
        spdlog::info("access log: {} ({})", server.access_log, server.access_log_json ? "json" : "plain");
        return true;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        accesslog::close();
        return false;
    }
}

Daemon::Daemon(asio::io_context& io, std::string config_path, bool dev, conf::Config& config, server::Front& front,
               supervisor::Supervisor& supervisor, acme::CertificateManager& certificates, service::ServiceNotifier& notifier,
               std::vector<std::string> arguments)
    : io_(io), config_path_(std::move(config_path)), dev_(dev), config_(config), front_(front), supervisor_(supervisor),
      certificates_(certificates), notifier_(notifier), arguments_(std::move(arguments)), started_(std::chrono::steady_clock::now()), watchdog_timer_(io) {
    std::error_code ec;
    binary_ = std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

admin::AdminHooks Daemon::admin_hooks() {
    auto info = [this] {
        return admin::ServerInfo{
            .version = version,
            .pid = ::getpid(),
            .uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(),
            .config_path = config_.path,
            .reloads = supervisor_.reloads(),
            .threads = config_.server.threads,
            .in_front = front_.connections_in_front(),
            .tls_relays = front_.relays(),
            .upgrade = upgrade_state_,
        };
    };
    return {
        .status = [this, info] { return admin::render_status(info(), front_.totals(), supervisor_.snapshot(), certificate_report()); },
        .metrics = [this, info] { return admin::render_metrics(info(), front_.totals(), supervisor_.snapshot(), certificate_report()); },
        .ready = [this] { return front_.listening() && supervisor_.ready(); },
        .reload = [this] {
            if (stopping_) return admin::ReloadOutcome{false, {}, {"vhostd is shutting down"}};
            return reload_now();
        },
        .site_action = [this](const std::string& site, const std::string& action) {
            if (stopping_) return false;
            if (action == "restart") return supervisor_.restart_site(site);
            if (action == "stop") return supervisor_.stop_site(site);
            return supervisor_.start_site(site);
        },
        .upgrade = [this] { return upgrade(); },
    };
}

void Daemon::announce_when_ready(service::Predecessor* predecessor) {
    taking_over_ = predecessor != nullptr;
    const auto give_up = std::chrono::steady_clock::now() + ready_bound;
    when_idle(io_, [this] { return supervisor_.ready() ? 0 : 1; }, give_up, [this, predecessor] {
        const bool all = supervisor_.ready();
        if (predecessor == nullptr) {
            if (!all) spdlog::warn("sites still without a ready worker after {} s; saying ready anyway", ready_bound.count());
            notifier_.notify("READY=1\n" + status_line(all ? "serving" : "serving, some sites not ready"));
            return;
        }
        if (!all) {
            // The old vhostd serves those sites: it stays, and stops this one at its timeout.
            spdlog::error("upgrade: sites still without a ready worker after {} s; not taking over", ready_bound.count());
            return;
        }
        spdlog::info("upgrade: ready; taking over from the old vhostd");
        taking_over_ = false;
        front_.start_accepting();
        if (admin_ != nullptr) admin_->start();  // from now on /status shows this process
        predecessor->take_over([this](server::WaitingConnection connection) { front_.adopt(std::move(connection)); },
                               [this](protocol::FileDescriptor fd, protocol::ConnectionInfo info) {
                                   front_.adopt(std::move(fd), std::move(info));
                               });
    });
}

void Daemon::on_signal(int signal) {
    if (signal == SIGHUP) {
        if (!stopping_) reload_now();
    } else if (signal == SIGUSR2) {
        const auto started = upgrade();
        if (const auto* error = std::get_if<std::string>(&started)) spdlog::error("upgrade: {}", *error);
    } else if (!stopping_) {
        shut_down({});
    } else {
        spdlog::warn("second stop signal: exiting now; workers are killed with vhostd");
        io_.stop();
    }
}

void Daemon::keep_watchdog_fed() {
    if (notifier_.watchdog_interval().count() == 0 || handed_over_) return;
    notifier_.notify("WATCHDOG=1", true);
    watchdog_timer_.expires_after(notifier_.watchdog_interval());
    watchdog_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) keep_watchdog_fed();
    });
}

admin::CertificateReport Daemon::certificate_report() const {
    return {certificates_.status(), certificates_.counters(), acme::Clock::now()};
}

std::string Daemon::status_line(std::string_view state) const {
    return "STATUS=" + std::string(state) + ": " + std::to_string(config_.sites.size()) + " sites";
}

admin::ReloadOutcome Daemon::reload_now() {
    notifier_.notify("RELOADING=1\n" + service::monotonic_usec() + "\nSTATUS=reloading " + config_.path);
    admin::ReloadOutcome outcome = reload(config_path_, dev_, config_, front_, supervisor_, certificates_);
    notifier_.notify("READY=1\n" + status_line(outcome.ok ? "serving" : "serving; the last reload failed"));
    return outcome;
}

void Daemon::shut_down(supervisor::Supervisor::Successor successor) {
    stopping_ = true;
    if (!successor) {
        // An upgrade still starting is called off: its vhostd goes too.
        if (successor_ && !successor_->ready()) successor_->abandon();
        notifier_.notify("STOPPING=1\nSTATUS=draining");
    }
    spdlog::info("stopping: no new connections; draining workers");
    front_.stop_accepting();
    auto in_front = [this] { return front_.connections_in_front(); };
    when_idle(io_, in_front, std::chrono::steady_clock::now() + config_.server.head_timeout + 1s, [this, successor] {
        supervisor_.stop(
            [this] {
                spdlog::info("all workers stopped");
                auto in_front_or_relayed = [this] { return front_.connections_in_front() + front_.relays(); };
                when_idle(io_, in_front_or_relayed, std::chrono::steady_clock::now() + 3s, [this] {
                    spdlog::info("bye");
                    io_.stop();
                });
            },
            successor);
    });
}

std::variant<pid_t, std::string> Daemon::upgrade() {
    if (stopping_) return std::string("vhostd is shutting down");
    if (taking_over_) return std::string("this vhostd is itself still taking over from an upgrade");
    if (successor_) return "an upgrade is in progress (new pid " + std::to_string(successor_->pid()) + ")";
    std::vector<int> sockets = front_.listening_sockets();
    if (admin_ != nullptr) sockets.push_back(admin_->listening_socket());
    try {
        successor_ = std::make_unique<service::Successor>(io_, binary_, arguments_, sockets);
    } catch (const std::exception& e) {
        upgrade_state_ = std::string("failed: ") + e.what();
        return std::string(e.what());
    }
    const pid_t pid = successor_->pid();
    upgrade_state_ = "starting pid " + std::to_string(pid);
    notifier_.notify("STATUS=upgrading: new vhostd pid " + std::to_string(pid) + " is starting");
    successor_->wait_until_ready(upgrade_timeout, [this, failed = successor_.get()](std::string failure) {
        if (failure.empty()) {
            hand_over();
            return;
        }
        spdlog::error("upgrade failed: {}; this vhostd goes on serving", failure);
        upgrade_state_ = "failed: " + failure;
        notifier_.notify(status_line("serving; the last upgrade failed"));
        asio::post(io_, [this, failed] {  // not under its own callback
            if (successor_.get() == failed) successor_.reset();
        });
    });
    return pid;
}

void Daemon::hand_over() {
    service::Successor& successor = *successor_;
    spdlog::info("upgrade: pid {} is ready; passing it the waiting connections, then draining", successor.pid());
    // systemd follows the new process from here, and hears no more from this one.
    notifier_.notify("MAINPID=" + std::to_string(successor.pid()) + "\nSTATUS=handed over to pid " + std::to_string(successor.pid()));
    watchdog_timer_.cancel();
    handed_over_ = true;
    if (admin_ != nullptr) admin_->stop();
    front_.release_waiting([&successor](server::WaitingConnection connection) {
        if (!successor.pass(connection)) {
            spdlog::error("upgrade: {}:{} was waiting for its first bytes and could not be passed on; closed",
                          connection.remote.address().to_string(), connection.remote.port());
        }
    });
    shut_down([&successor](protocol::PendingConnection& connection) {
        // A terminated TLS connection is a socketpair whose relay lives in this process,
        // which is about to exit: it stays, and is answered as a stop would.
        const bool relayed_here = connection.info.tls && !connection.info.tls->passthrough;
        return !relayed_here && successor.pass(connection);
    });
}

}  // namespace vhostd::apps
