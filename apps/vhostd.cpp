// vhostd: wiring only. Config -> supervisor (worker pools) + front (listeners), one io_context.
#include "accesslog/access_log.hpp"
#include "admin/admin_server.hpp"
#include "admin/prometheus.hpp"
#include "admin/status_json.hpp"
#include "conf/config_diff.hpp"
#include "conf/dev_mode.hpp"
#include "conf/loader.hpp"
#include "server/front.hpp"
#include "supervisor/privileges.hpp"
#include "supervisor/supervisor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <iostream>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* vhostd_version = "0.1.0";

namespace {

constexpr const char* usage_text =
    "usage: vhostd -c FILE [--check] [--dev] [--log-level trace|debug|info|warn|error|off]\n"
    "  -c, --config FILE   the TOML configuration\n"
    "  --check             validate the configuration, print the errors or \"ok\", and exit\n"
    "  --dev               development: one worker per site, rolled when the site's files change\n";

struct Options {
    std::string config_path;
    bool check_only = false;
    bool dev = false;
    spdlog::level::level_enum log_level = spdlog::level::info;
};

std::optional<Options> parse_options(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
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

// SIGTERM/SIGINT: stop accepting, let connections still in the front finish their head (or
// time out), drain the workers, let the last 503s and the TLS relays' last bytes go out, exit.
void shut_down(asio::io_context& io, vhostd::server::Front& front, vhostd::supervisor::Supervisor& supervisor,
               std::chrono::milliseconds head_timeout) {
    spdlog::info("stopping: no new connections; draining workers");
    front.stop_accepting();
    auto in_front = [&front] { return front.connections_in_front(); };
    when_idle(io, in_front, std::chrono::steady_clock::now() + head_timeout + 1s, [&io, &front, &supervisor] {
        supervisor.stop([&io, &front] {
            spdlog::info("all workers stopped");
            auto in_front_or_relayed = [&front] { return front.connections_in_front() + front.relays(); };
            when_idle(io, in_front_or_relayed, std::chrono::steady_clock::now() + 3s, [&io] {
                spdlog::info("bye");
                io.stop();
            });
        });
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

// The admin endpoint's view of this process.
vhostd::admin::AdminHooks admin_hooks(vhostd::conf::Config& config, const std::string& config_path, bool dev,
                                      vhostd::server::Front& front, vhostd::supervisor::Supervisor& supervisor,
                                      std::chrono::steady_clock::time_point started, const bool& stopping) {
    auto info = [&config, &front, &supervisor, started] {
        return vhostd::admin::ServerInfo{
            .version = vhostd_version,
            .pid = ::getpid(),
            .uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
            .config_path = config.path,
            .reloads = supervisor.reloads(),
            .threads = config.server.threads,
            .in_front = front.connections_in_front(),
            .tls_relays = front.relays(),
        };
    };
    return {
        .status = [info, &front, &supervisor] { return vhostd::admin::render_status(info(), front.totals(), supervisor.snapshot()); },
        .metrics = [info, &front, &supervisor] { return vhostd::admin::render_metrics(info(), front.totals(), supervisor.snapshot()); },
        .ready = [&front, &supervisor] { return front.listening() && supervisor.ready(); },
        .reload = [&config_path, dev, &config, &front, &supervisor, &stopping] {
            if (stopping) return vhostd::admin::ReloadOutcome{false, {}, {"vhostd is shutting down"}};
            return reload(config_path, dev, config, front, supervisor);
        },
        .site_action = [&supervisor, &stopping](const std::string& site, const std::string& action) {
            if (stopping) return false;
            if (action == "restart") return supervisor.restart_site(site);
            if (action == "stop") return supervisor.stop_site(site);
            return supervisor.start_site(site);
        },
    };
}

}  // namespace

int main(int argc, char** argv) {
    const std::optional<Options> options = parse_options(argc, argv);
    if (!options) {
        std::cerr << usage_text;
        return 2;
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
    vhostd::supervisor::Supervisor supervisor(io, config);
    vhostd::server::Front front(config, supervisor, io);
    try {
        front.start();
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    bool stopping = false;
    std::optional<vhostd::admin::AdminServer> admin;
    if (config.admin) {
        try {
            admin.emplace(io, *config.admin, admin_hooks(config, options->config_path, options->dev, front, supervisor, std::chrono::steady_clock::now(), stopping));
            admin->start();
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 1;
        }
    }
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

    asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
    std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
            if (!stopping) reload(options->config_path, options->dev, config, front, supervisor);
        } else if (!stopping) {
            stopping = true;
            shut_down(io, front, supervisor, config.server.head_timeout);
        } else {
            spdlog::warn("second stop signal: exiting now; workers are killed with vhostd");
            io.stop();
            return;
        }
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);

    spdlog::info("vhostd {} serving {} sites from {}", vhostd_version, config.sites.size(), config.path);
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
