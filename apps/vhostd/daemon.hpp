// The vhostd process once wired: what signals, the admin endpoint and systemd ask of it
// (reload, stop, upgrade, readiness, watchdog), on the main loop.
#pragma once

#include "acme/certificate_manager.hpp"
#include "admin/admin_server.hpp"
#include "admin/status_json.hpp"
#include "conf/config.hpp"
#include "server/front.hpp"
#include "service/predecessor.hpp"
#include "service/service_notifier.hpp"
#include "service/successor.hpp"
#include "supervisor/supervisor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace vhostd::apps {

// Opens [server] access_log, or closes it when unset; a file that cannot be opened is logged
// and leaves the access log off rather than stopping vhostd.
bool open_access_log(const conf::ServerSettings& server);

class Daemon {
public:
    // `arguments` are vhostd's own (without argv[0]): an upgrade starts the binary with them.
    Daemon(boost::asio::io_context& io, std::string config_path, bool dev, conf::Config& config, server::Front& front,
           supervisor::Supervisor& supervisor, acme::CertificateManager& certificates, service::ServiceNotifier& notifier,
           std::vector<std::string> arguments);

    void set_admin(admin::AdminServer* admin) { admin_ = admin; }
    admin::AdminHooks admin_hooks();

    // READY=1 once every site that should have a ready worker has one (or after
    // ready_bound, saying so: a broken site must not keep the others from starting). In a
    // vhostd started by an upgrade, the old one then hands over instead.
    void announce_when_ready(service::Predecessor* predecessor);
    // SIGHUP reloads, SIGUSR2 upgrades, SIGTERM/SIGINT stop (a second one exits at once).
    void on_signal(int signal);
    // Pings systemd's watchdog from the main loop, which also runs the supervisor: a loop
    // that hangs stops the pings, and systemd restarts vhostd.
    void keep_watchdog_fed();

private:
    static constexpr std::chrono::seconds ready_bound{60};
    static constexpr std::chrono::seconds upgrade_timeout{90};

    std::string status_line(std::string_view state) const;
    admin::CertificateReport certificate_report() const;
    admin::ReloadOutcome reload_now();
    // Stop accepting, let connections still in the front finish their head (or time out),
    // drain the workers, let the last 503s and the TLS relays' last bytes go out, exit.
    // With a `successor`, what the sites could not hand their workers goes to it, not a 503.
    void shut_down(supervisor::Supervisor::Successor successor);
    // SIGUSR2 and POST /upgrade: starts the binary anew with every listening socket. This
    // process goes on serving until the new one says it is ready, then hands over.
    std::variant<pid_t, std::string> upgrade();
    // The new vhostd accepts on the shared sockets and its workers are ready: it becomes
    // systemd's main process, and this one passes over every connection it still holds
    // unread, then drains what its workers serve and exits.
    void hand_over();

    boost::asio::io_context& io_;
    std::string config_path_;
    bool dev_;
    conf::Config& config_;
    server::Front& front_;
    supervisor::Supervisor& supervisor_;
    acme::CertificateManager& certificates_;
    service::ServiceNotifier& notifier_;
    admin::AdminServer* admin_ = nullptr;
    std::vector<std::string> arguments_;
    std::string binary_;  // read at start: a package upgrade may replace the file later
    std::chrono::steady_clock::time_point started_;
    bool stopping_ = false;
    bool taking_over_ = false;  // started by an upgrade, not ready yet: the old vhostd still serves
    bool handed_over_ = false;  // to a new vhostd: systemd follows that one now
    std::unique_ptr<service::Successor> successor_;
    std::string upgrade_state_;  // for /status: "", "starting pid N", "failed: …"
    boost::asio::steady_timer watchdog_timer_;
};

}  // namespace vhostd::apps
