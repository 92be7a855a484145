// vhostd: wiring only. Config -> supervisor (worker pools) + front (listeners), one io_context.
#include "accesslog/access_log.hpp"
#include "acme/certificate_manager.hpp"
#include "admin/admin_server.hpp"
#include "apps/build_info.hpp"
#include "apps/vhostd/daemon.hpp"
#include "conf/dev_mode.hpp"
#include "conf/loader.hpp"
#include "server/front.hpp"
#include "server/inherited_sockets.hpp"
#include "service/predecessor.hpp"
#include "supervisor/privileges.hpp"
#include "supervisor/supervisor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr const char* usage_text =
    "usage: vhostd -c FILE [--check] [--dev] [--log-level trace|debug|info|warn|error|off]\n"
    "       vhostd --version\n"
    "  -c, --config FILE   the TOML configuration\n"
    "  -t, --check         validate the configuration, print the errors or \"ok\", and exit\n"
    "  --dev               development: one worker per site, rolled when the site's files change\n"
    "  -v, --version       print the version and build information, and exit\n"
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
    if (!vhostd::apps::open_access_log(config.server)) return 1;
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
    vhostd::acme::CertificateManager certificates(io, front.auto_tls());
    certificates.on_files_changed([&supervisor](const std::string& site, std::vector<vhostd::conf::Certificate> files) {
        supervisor.use_certificate_files(site, std::move(files));
    });
    // Front threads ask; the manager answers on the main loop.
    front.auto_tls().set_on_demand([&io, &certificates](const std::string& name, const std::string& site, std::function<void(bool)> done) {
        asio::post(io, [&certificates, name, site, done = std::move(done)]() mutable { certificates.obtain_on_demand(name, site, std::move(done)); });
    });
    vhostd::apps::Daemon daemon(io, options->config_path, options->dev, config, front, supervisor, certificates, notifier,
                                std::vector<std::string>(argv + 1, argv + argc));
    std::optional<vhostd::admin::AdminServer> admin;
    try {
        front.start(&inherited, !predecessor);  // started by an upgrade: accept once the workers are ready
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
    try {
        // As the [server] user: the state directory's files are its own.
        certificates.configure(config);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
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
