// vhostd: wiring only. Config -> supervisor (worker pools) + front (listeners), one io_context.
#include "accesslog/access_log.hpp"
#include "apps/build_info.hpp"
#include "admin/admin_server.hpp"
#include "admin/prometheus.hpp"
#include "admin/status_json.hpp"
#include "conf/config_diff.hpp"
#include "conf/dev_mode.hpp"
#include "conf/loader.hpp"
#include "server/front.hpp"
#include "server/inherited_sockets.hpp"
#include "service/predecessor.hpp"
#include "service/service_notifier.hpp"
#include "service/successor.hpp"
#include "supervisor/privileges.hpp"
#include "supervisor/supervisor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <variant>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr const char* usage_text =
    "usage: vhostd -c FILE [--check] [--dev] [--log-level trace|debug|info|warn|error|off]\n"
    "       vhostd --version\n"
    "  -c, --config FILE   the TOML configuration\n"
    "  --check             validate the configuration, print the errors or \"ok\", and exit\n"
    "  --dev               development: one worker per site, rolled when the site's files change\n"
    "  --version           print the version and build information, and exit\n"
    "signals: HUP reloads, TERM and INT stop gracefully, USR2 upgrades (starts the binary anew\n"
    "and hands it the sockets and waiting connections)\n";

struct Options {
    std::string config_path;
    bool version = false;
    bool check_only = false;
    bool dev = false;
    spdlog::level::level_enum log_level = spdlog::level::info;
};

std::optional<Options> parse_options(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--version" || arg == "-v") {
            options.version = true;
            return options;
        }
        if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
            options.config_path = argv[++i];
        } else if (arg == "--check" || arg == "-t") {
            options.check_only = true;
        } else if (arg == "--dev") {
            options.dev = true;
        } else if (arg == "--log-level" && i + 1 < argc) {
            const std::string level = argv[++i];
            options.log_level = spdlog::level::from_str(level);
            if (options.log_level == spdlog::level::off && level != "off") return std::nullopt;  // from_str's "unknown"
        } else {
            return std::nullopt;
        }
    }
    if (options.config_path.empty()) return std::nullopt;
    return options;
}

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

// Opens [server] access_log, or closes it when unset; a file that cannot be opened is logged
// and leaves the access log off rather than stopping vhostd.
bool open_access_log(const vhostd::conf::ServerSettings& server) {
    if (server.access_log.empty()) {
        vhostd::accesslog::close();
        return true;
    }
    try {
        vhostd::accesslog::open(server.access_log, server.access_log_json);
        spdlog::info("access log: {} ({})", server.access_log, server.access_log_json ? "json" : "plain");
        return true;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        vhostd::accesslog::close();
        return false;
    }
}


// SIGHUP and POST /reload: build the whole new configuration first; if anything is wrong the
// running one keeps serving untouched (as nginx and HAProxy do).
vhostd::admin::ReloadOutcome reload(const std::string& path, bool dev, vhostd::conf::Config& running, vhostd::server::Front& front,
                                    vhostd::supervisor::Supervisor& supervisor) {
    vhostd::admin::ReloadOutcome outcome;
    auto loaded = vhostd::conf::load_config_file(path);
    if (auto* errors = std::get_if<std::vector<vhostd::conf::ConfigError>>(&loaded)) {
        for (const auto& error : *errors) {
            spdlog::error("reload: {}", error.to_string());
            outcome.errors.push_back(error.to_string());
        }
        spdlog::error("reload: {} error(s); keeping the running configuration", errors->size());
        return outcome;
    }
    vhostd::conf::Config& next = std::get<vhostd::conf::Config>(loaded);
    if (dev) vhostd::conf::apply_dev_mode(next);
    const vhostd::conf::ConfigDiff diff = vhostd::conf::diff_configs(running, next);
    outcome.ok = true;
    // Reopened on every reload, changed or not, so that logrotate can move the file away
    // and send SIGHUP, as with nginx.
    open_access_log(next.server);
    // Listeners and certificates first: certificate files are read again on every reload,
    // changed config or not, so that renewed ones take effect (as with nginx -s reload).
    try {
        front.bind_for(next);
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

// The process: its parts, and what signals, the admin endpoint and systemd ask of it.
class Daemon {
public:
    Daemon(asio::io_context& io, const Options& options, vhostd::conf::Config& config, vhostd::server::Front& front,
           vhostd::supervisor::Supervisor& supervisor, vhostd::service::ServiceNotifier& notifier, std::vector<std::string> arguments)
        : io_(io), options_(options), config_(config), front_(front), supervisor_(supervisor), notifier_(notifier),
          arguments_(std::move(arguments)), started_(std::chrono::steady_clock::now()) {
        std::error_code ec;
        binary_ = std::filesystem::read_symlink("/proc/self/exe", ec).string();  // now: a package upgrade may replace it later
    }

    void set_admin(vhostd::admin::AdminServer* admin) { admin_ = admin; }

    vhostd::admin::AdminHooks admin_hooks() {
        auto info = [this] {
            return vhostd::admin::ServerInfo{
                .version = vhostd::apps::version,
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
            .status = [this, info] { return vhostd::admin::render_status(info(), front_.totals(), supervisor_.snapshot()); },
            .metrics = [this, info] { return vhostd::admin::render_metrics(info(), front_.totals(), supervisor_.snapshot()); },
            .ready = [this] { return front_.listening() && supervisor_.ready(); },
            .reload = [this] {
                if (stopping_) return vhostd::admin::ReloadOutcome{false, {}, {"vhostd is shutting down"}};
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

    // READY=1 once every site that should have a ready worker has one (or after
    // ready_bound, saying which have none: a broken site must not keep the rest from
    // starting); then, in a vhostd started by an upgrade, the old one hands over.
    void announce_when_ready(vhostd::service::Predecessor* predecessor) {
        const auto give_up = std::chrono::steady_clock::now() + ready_bound;
        when_idle(io_, [this] { return supervisor_.ready() ? 0 : 1; }, give_up, [this, predecessor] {
            const bool all = supervisor_.ready();
            if (!all) spdlog::warn("sites still without a ready worker after {} s; saying ready anyway", ready_bound.count());
            if (predecessor == nullptr) notifier_.notify("READY=1\n" + status_line(all ? "serving" : "serving, some sites not ready"));
            if (predecessor != nullptr) {
                spdlog::info("upgrade: ready; taking over from the old vhostd");
                if (admin_ != nullptr) admin_->start();  // from now on /status shows this process
                predecessor->take_over([this](vhostd::server::WaitingConnection connection) { front_.adopt(std::move(connection)); },
                                       [this](vhostd::protocol::FileDescriptor fd, vhostd::protocol::ConnectionInfo info) {
                                           front_.adopt(std::move(fd), std::move(info));
                                       });
            }
        });
    }

    void on_signal(int signal) {
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

    // Pings systemd's watchdog from the main loop, which also runs the supervisor: a loop
    // that hangs stops the pings and systemd restarts vhostd.
    void keep_watchdog_fed() {
        if (notifier_.watchdog_interval().count() == 0) return;
        auto timer = std::make_shared<asio::steady_timer>(io_);
        auto ping = std::make_shared<std::function<void()>>();
        *ping = [this, timer, weak = std::weak_ptr(ping)] {
            notifier_.notify("WATCHDOG=1");
            timer->expires_after(notifier_.watchdog_interval());
            timer->async_wait([weak](boost::system::error_code ec) {
                if (auto again = weak.lock(); again && !ec) (*again)();
            });
        };
        watchdog_ = ping;
        (*ping)();
    }

private:
    static constexpr std::chrono::seconds ready_bound{60};
    static constexpr std::chrono::seconds upgrade_timeout{90};

    std::string status_line(std::string_view state) const {
        return "STATUS=" + std::string(state) + ": " + std::to_string(config_.sites.size()) + " sites";
    }

    vhostd::admin::ReloadOutcome reload_now() {
        notifier_.notify("RELOADING=1\n" + vhostd::service::monotonic_usec() + "\nSTATUS=reloading " + config_.path);
        vhostd::admin::ReloadOutcome outcome = reload(options_.config_path, options_.dev, config_, front_, supervisor_);
        notifier_.notify("READY=1\n" + status_line(outcome.ok ? "serving" : "serving; the last reload failed"));
        return outcome;
    }

    // SIGTERM/SIGINT, or the end of an upgrade: stop accepting, let connections still in the
    // front finish their head (or time out), drain the workers, let the last 503s and the
    // TLS relays' last bytes go out, exit. With a `successor`, the connections the sites
    // could not hand their workers go to it instead of a 503.
    void shut_down(vhostd::supervisor::Supervisor::Successor successor) {
        stopping_ = true;
        notifier_.notify("STOPPING=1\nSTATUS=draining");
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

    // SIGUSR2 and POST /upgrade: start the binary anew with every listening socket. This
    // process goes on serving until the new one says it is ready, then hands over.
    std::variant<pid_t, std::string> upgrade() {
        if (stopping_) return std::string("vhostd is shutting down");
        if (successor_) return "an upgrade is in progress (new pid " + std::to_string(successor_->pid()) + ")";
        std::vector<int> sockets = front_.listening_sockets();
        if (admin_ != nullptr) sockets.push_back(admin_->listening_socket());
        try {
            successor_ = std::make_unique<vhostd::service::Successor>(io_, binary_, arguments_, sockets);
        } catch (const std::exception& e) {
            upgrade_state_ = std::string("failed: ") + e.what();
            return std::string(e.what());
        }
        const pid_t pid = successor_->pid();
        upgrade_state_ = "starting pid " + std::to_string(pid);
        notifier_.notify("STATUS=upgrading: new vhostd pid " + std::to_string(pid) + " is starting");
        successor_->wait_until_ready(upgrade_timeout, [this](std::string failure) {
            if (failure.empty()) {
                hand_over();
                return;
            }
            spdlog::error("upgrade failed: {}; this vhostd goes on serving", failure);
            upgrade_state_ = "failed: " + failure;
            notifier_.notify(status_line("serving; the last upgrade failed"));
            asio::post(io_, [this] { successor_.reset(); });  // not under its own callback
        });
        return pid;
    }

    // The new vhostd accepts on the shared sockets and its workers are ready: it becomes
    // systemd's main process, and this one passes over every connection it still holds
    // unread, then drains what its workers serve and exits.
    void hand_over() {
        vhostd::service::Successor& successor = *successor_;
        spdlog::info("upgrade: pid {} is ready; passing it the waiting connections, then draining", successor.pid());
        notifier_.notify("MAINPID=" + std::to_string(successor.pid()) + "\nSTATUS=handed over to pid " + std::to_string(successor.pid()));
        if (admin_ != nullptr) admin_->stop();
        front_.release_waiting([&successor](vhostd::server::WaitingConnection connection) {
            if (!successor.pass(connection)) {
                spdlog::error("upgrade: could not pass {}:{} to the new vhostd; closed", connection.remote.address().to_string(),
                              connection.remote.port());
            }
        });
        shut_down([&successor](vhostd::protocol::PendingConnection connection) {
            if (!successor.pass(connection)) connection.reject(std::move(connection.socket), 1, "the new vhostd could not take it");
        });
    }

    asio::io_context& io_;
    const Options& options_;
    vhostd::conf::Config& config_;
    vhostd::server::Front& front_;
    vhostd::supervisor::Supervisor& supervisor_;
    vhostd::service::ServiceNotifier& notifier_;
    vhostd::admin::AdminServer* admin_ = nullptr;
    std::vector<std::string> arguments_;  // to start the new binary with in an upgrade
    std::string binary_;
    std::chrono::steady_clock::time_point started_;
    bool stopping_ = false;
    std::unique_ptr<vhostd::service::Successor> successor_;
    std::string upgrade_state_;
    std::shared_ptr<std::function<void()>> watchdog_;
};

}  // namespace

int main(int argc, char** argv) {
    const std::optional<Options> options = parse_options(argc, argv);
    if (!options) {
        std::cerr << usage_text;
        return 2;
    }
    if (options->version) {
        std::cout << vhostd::apps::build_info("vhostd");
        return 0;
    }

    auto loaded = vhostd::conf::load_config_file(options->config_path);
    if (auto* errors = std::get_if<std::vector<vhostd::conf::ConfigError>>(&loaded)) {
        for (const auto& error : *errors) std::cerr << error.to_string() << "\n";
        std::cerr << errors->size() << (errors->size() == 1 ? " error" : " errors") << " in " << options->config_path << "\n";
        return 1;
    }
    vhostd::conf::Config config = std::get<vhostd::conf::Config>(std::move(loaded));
    if (options->dev) vhostd::conf::apply_dev_mode(config);
    if (options->check_only) {
        std::cout << "ok: " << config.path << " (" << config.sites.size() << " sites, " << config.listeners.size() << " listeners)\n";
        return 0;
    }

    spdlog::set_level(options->log_level);
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    std::signal(SIGPIPE, SIG_IGN);

    // The main thread runs the supervisor, the signals and the first front thread.
    if (!open_access_log(config.server)) return 1;
    asio::io_context io(1);
    vhostd::service::ServiceNotifier notifier = vhostd::service::ServiceNotifier::from_environment();
    vhostd::server::InheritedSockets inherited;
    std::unique_ptr<vhostd::service::Predecessor> predecessor;
    try {
        inherited = vhostd::server::InheritedSockets::from_environment();
        predecessor = vhostd::service::Predecessor::from_environment(io);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    vhostd::supervisor::Supervisor supervisor(io, config);
    vhostd::server::Front front(config, supervisor, io);
    Daemon daemon(io, *options, config, front, supervisor, notifier, std::vector<std::string>(argv + 1, argv + argc));
    std::optional<vhostd::admin::AdminServer> admin;
    try {
        front.start(&inherited);
        if (config.admin) {
            admin.emplace(io, *config.admin, daemon.admin_hooks(), &inherited);
            if (!predecessor) admin->start();  // else once ready: the old one answers until then
            daemon.set_admin(&*admin);
        }
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    inherited.close_unclaimed();
    // Every socket is open: from here vhostd needs root no more, and no worker runs yet.
    if (!config.server.user.empty()) {
        try {
            vhostd::supervisor::drop_privileges(config.server.user, config.server.group);
            spdlog::info("running as user {} (uid {}), keeping CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_NET_BIND_SERVICE", config.server.user, ::getuid());
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 1;
        }
    }
    supervisor.start();
    daemon.announce_when_ready(predecessor.get());
    daemon.keep_watchdog_fed();

    asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
    signals.add(SIGUSR2);
    std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int signal) {
        if (ec) return;
        daemon.on_signal(signal);
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);

    spdlog::info("vhostd {} serving {} sites from {}", vhostd::apps::version, config.sites.size(), config.path);
    io.run();
    front.finish();
    if (const std::size_t open = front.connections_in_front() + front.relays(); open > 0) {
        // Connections still waiting or relayed when the time ran out: their coroutines
        // refer to the front, which must not be destroyed under them. Leave without
        // unwinding; the kernel closes their sockets.
        spdlog::warn("exiting with {} connections still open", open);
        vhostd::accesslog::close();
        spdlog::shutdown();
        std::_Exit(0);
    }
    return 0;
}
