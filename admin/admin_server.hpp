// The admin HTTP endpoint (Beast): status, metrics, health, reload and per-site controls,
// and the dashboard page. It runs on the supervisor's io_context (one thread), so its hooks
// may touch the supervisor directly.
#pragma once

#include "admin/request_guard.hpp"
#include "conf/config.hpp"
#include "server/inherited_sockets.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/json/object.hpp>

#include <sys/types.h>

#include <functional>
#include <list>
#include <string>
#include <variant>
#include <vector>

namespace vhostd::admin {

struct ReloadOutcome {
    bool ok = false;
    std::string summary;              // when ok
    std::vector<std::string> errors;  // when not
};

// What the endpoint reads and steers, wired by apps/vhostd.
struct AdminHooks {
    std::function<boost::json::object()> status;
    std::function<std::string()> metrics;
    std::function<bool()> ready;
    std::function<ReloadOutcome()> reload;
    // action is "restart", "stop" or "start"; false when there is no such site.
    std::function<bool(const std::string& site, const std::string& action)> site_action;
    // Starts the vhostd binary anew to take over (POST /upgrade): the new process's pid, or
    // why it could not start. Its outcome shows in status()'s "upgrade".
    std::function<std::variant<pid_t, std::string>()> upgrade;
};

class AdminServer {
public:
    // Binds now (or takes the socket on its address from `inherited`) and reads the token
    // file; throws std::runtime_error with the reason.
    AdminServer(boost::asio::io_context& io, const conf::AdminSettings& settings, AdminHooks hooks,
                server::InheritedSockets* inherited = nullptr);

    void start();
    void stop();
    // The listening socket, to pass to the vhostd that replaces this one.
    int listening_socket() { return acceptor_.native_handle(); }

private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
    bool evict_one_session();

    // One open connection: whether it has shown the token, whether it waits for a request,
    // and whether it was closed to make room (it leaves the list when its coroutine ends).
    struct Session {
        boost::beast::tcp_stream* stream;
        bool authenticated;
        bool idle;
        bool evicted;
    };

    AdminHooks hooks_;
    std::string address_;
    std::string token_;  // empty: no authentication
    HostRule host_rule_;
    std::list<Session> sessions_;  // oldest first
    boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace vhostd::admin
