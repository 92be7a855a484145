// vhostd-upstream: makes an app that can only listen on a port hostable behind vhostd. It
// starts the app with a free port in PORT (or a Unix socket path in SOCKET), says ready once
// that port accepts, and relays each connection vhostd hands it to the app. The app runs in
// this worker's process group, so vhostd's rotation, drain and kill reach it too; if the app
// exits, so does this worker, and vhostd restarts both with its usual backoff and limits.
//
//   [sites.legacy]
//   hosts = ["legacy.example"]
//   upstream = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "$PORT"]
//   # or command = ["vhostd-upstream", "--", "python3", "-m", "http.server", ...]
#include "protocol/environment.hpp"
#include "sdk/cpp/worker.hpp"
#include "workers/upstream/app_command.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <list>
#include <optional>

namespace asio = boost::asio;
using asio::ip::tcp;
using Stream = asio::generic::stream_protocol;
using vhostd::sdk::Worker;
using namespace asio::experimental::awaitable_operators;

extern char** environ;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t relay_buffer_size = 16 * 1024;

struct Options {
    bool unix_socket = false;
    bool proxy_protocol = false;
    std::chrono::seconds ready_timeout{25};  // under vhostd's default start_timeout (30 s), so ours speaks first
    std::chrono::seconds idle_timeout{600};  // a relay with no byte either way for this long is closed
    std::vector<std::string> command;
};

// One relayed connection, as a drain sees it.
struct Relay {
    tcp::socket* client;
    Stream::socket* app;
    std::chrono::steady_clock::time_point last_transfer;
    bool answer_was_last = false;  // the last bytes went from the app to the client
};

struct Upstream {
    Stream::endpoint endpoint;
    bool proxy_protocol = false;
    std::list<Relay> relays;
    bool draining = false;
};

int usage() {
    std::cerr << "usage: vhostd-upstream [--unix] [--proxy-protocol] [--ready-timeout SECONDS] [--idle-timeout SECONDS]\n"
                 "                       -- COMMAND [ARG...]\n"
                 "  starts COMMAND with PORT (or, with --unix, SOCKET) in its environment and in \"$PORT\"/\"$SOCKET\"\n"
                 "  arguments, waits until it accepts, then relays the connections vhostd hands over.\n";
    return 2;
}

std::optional<Options> parse_options(int argc, char** argv) {
    Options options;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") {
            ++i;
            break;
        } else if (arg == "--unix") {
            options.unix_socket = true;
        } else if (arg == "--proxy-protocol") {
            options.proxy_protocol = true;
        } else if (arg == "--ready-timeout" && i + 1 < argc) {
            options.ready_timeout = std::chrono::seconds(std::atoi(argv[++i]));
        } else if (arg == "--idle-timeout" && i + 1 < argc) {
            options.idle_timeout = std::chrono::seconds(std::atoi(argv[++i]));
        } else {
            return std::nullopt;
        }
    }
    for (; i < argc; ++i) options.command.emplace_back(argv[i]);
    if (options.command.empty() || options.ready_timeout.count() <= 0 || options.idle_timeout.count() <= 0) return std::nullopt;
    return options;
}

// A port nobody uses now. Another process could take it before the app binds; the app then
// fails to start and vhostd restarts us with another port.
std::uint16_t free_loopback_port(asio::io_context& io) {
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    return probe.local_endpoint().port();
}

// The app must not inherit the channel's variables: it is not the worker vhostd talks to.
std::vector<std::string> app_environment(const std::string& name, const std::string& value) {
    std::vector<std::string> variables;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const std::string_view key = text.substr(0, text.find('='));
        if (key == vhostd::protocol::env_channel_fd || key == "NODE_CHANNEL_FD" ||
            key == "NODE_CHANNEL_SERIALIZATION_MODE" || key == "PORT" || key == "SOCKET") {
            continue;
        }
        variables.emplace_back(text);
    }
    variables.push_back(name + "=" + value);
    return variables;
}

pid_t start_app(const std::vector<std::string>& command, const std::vector<std::string>& environment) {
    std::vector<char*> argv, envp;
    for (const std::string& part : command) argv.push_back(const_cast<char*>(part.c_str()));
    argv.push_back(nullptr);
    for (const std::string& variable : environment) envp.push_back(const_cast<char*>(variable.c_str()));
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();  // single-threaded still: nothing runs yet but this
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);
        ::execvpe(argv[0], argv.data(), envp.data());
        std::cerr << "vhostd-upstream: cannot run '" << command[0] << "': " << std::strerror(errno) << std::endl;
        ::_exit(127);
    }
    return pid;
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("killed by ") + ::strsignal(WTERMSIG(status));
    return "stopped";
}

// Polls until the app accepts a connection on its address. Otherwise says why not: it
// exited (how), or time ran out.
asio::awaitable<std::optional<std::string>> wait_until_accepting(const Stream::endpoint& endpoint, pid_t app,
                                                                 std::chrono::seconds limit) {
    auto executor = co_await asio::this_coro::executor;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    asio::steady_timer pause(executor);
    while (std::chrono::steady_clock::now() < deadline) {
        Stream::socket probe(executor);
        auto [ec] = co_await probe.async_connect(endpoint, token);
        if (!ec) co_return std::nullopt;
        int status = 0;
        if (::waitpid(app, &status, WNOHANG) == app) co_return "it " + describe_status(status);
        pause.expires_after(std::chrono::milliseconds(50));
        co_await pause.async_wait(token);
    }
    co_return "not within " + std::to_string(limit.count()) + " s";
}

std::string proxy_header(const vhostd::sdk::ConnectionInfo& info) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(info.remote_address, ec);
    if (ec || info.local_address.empty()) return "PROXY UNKNOWN\r\n";
    return std::string("PROXY ") + (address.is_v6() ? "TCP6 " : "TCP4 ") + info.remote_address + " " + info.local_address +
           " " + std::to_string(info.remote_port) + " " + std::to_string(info.local_port) + "\r\n";
}

// Copies one direction until EOF, then passes the half-close on. Throws on an error, so
// that the other direction is cancelled with it.
template <typename From, typename To>
asio::awaitable<void> pump(From& from, To& to, Relay& relay, bool answers) {
    std::vector<char> buffer(relay_buffer_size);
    for (;;) {
        auto [read_error, n] = co_await from.async_read_some(asio::buffer(buffer), token);
        if (read_error == asio::error::eof) break;
        if (read_error) throw boost::system::system_error(read_error);
        co_await asio::async_write(to, asio::buffer(buffer.data(), n), asio::use_awaitable);
        relay.last_transfer = std::chrono::steady_clock::now();
        relay.answer_was_last = answers;
    }
    boost::system::error_code ignored;
    to.shutdown(asio::socket_base::shutdown_send, ignored);
}

asio::awaitable<void> relay(Upstream& upstream, tcp::socket client, vhostd::sdk::ConnectionInfo info,
                            [[maybe_unused]] Worker::Lease lease) {
    Stream::socket app(client.get_executor());
    if (auto [ec] = co_await app.async_connect(upstream.endpoint, token); ec) {
        std::cerr << "vhostd-upstream: connection " << info.id << ": the app refused it: " << ec.message() << std::endl;
        static constexpr std::string_view answer =
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 26\r\nConnection: close\r\n\r\n"
            "502 the app is not there\n";
        co_await asio::async_write(client, asio::buffer(answer), token);
        co_return;
    }
    if (upstream.proxy_protocol) {
        const std::string header = proxy_header(info);
        if (auto [ec, n] = co_await asio::async_write(app, asio::buffer(header), token); ec) co_return;
    }
    const auto entry = upstream.relays.insert(upstream.relays.end(), Relay{&client, &app, std::chrono::steady_clock::now()});
    try {
        co_await (pump(client, app, *entry, false) && pump(app, client, *entry, true));
    } catch (const boost::system::system_error&) {
        // a reset or a cancelled drain: both sockets close below
    }
    upstream.relays.erase(entry);
}

void cancel(Relay& relay) {
    boost::system::error_code ignored;
    relay.client->cancel(ignored);
    relay.app->cancel(ignored);
}

// Closes relays idle for `idle_timeout` (a client that vanished, a session left open), and
// while draining also those whose app has answered and that have been quiet for a second.
// A relay does not parse HTTP, so that is its best guess at "between requests": an answer
// that pauses for a second mid-stream during a drain is cut short.
asio::awaitable<void> close_idle_relays(Upstream& upstream, std::chrono::seconds idle_timeout) {
    asio::steady_timer tick(co_await asio::this_coro::executor);
    for (;;) {
        tick.expires_after(std::chrono::milliseconds(250));
        co_await tick.async_wait(token);
        const auto now = std::chrono::steady_clock::now();
        for (Relay& relay : upstream.relays) {
            const auto quiet = now - relay.last_transfer;
            if (quiet >= idle_timeout || (upstream.draining && relay.answer_was_last && quiet >= std::chrono::seconds(1))) {
                cancel(relay);
            }
        }
    }
}

void stop_app(pid_t app) {
    if (::waitpid(app, nullptr, WNOHANG) != 0) return;
    ::kill(app, SIGTERM);
    for (int i = 0; i < 100; ++i) {  // 10 s, then vhostd's kill of the group is next anyway
        if (::waitpid(app, nullptr, WNOHANG) != 0) return;
        ::usleep(100'000);
    }
    ::kill(app, SIGKILL);
    ::waitpid(app, nullptr, 0);
}

}  // namespace

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);  // a reset client is an error code, never the end of the worker
    const auto options = parse_options(argc, argv);
    if (!options || !Worker::started_by_vhostd()) return usage();
    try {
        asio::io_context io(1);
        Upstream upstream;
        upstream.proxy_protocol = options->proxy_protocol;
        std::string variable, value;
        std::filesystem::path socket_dir;
        if (options->unix_socket) {
            std::string pattern = (std::filesystem::temp_directory_path() / "vhostd-upstream-XXXXXX").string();
            if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
            socket_dir = pattern;
            variable = "SOCKET";
            value = (socket_dir / "app.sock").string();
            upstream.endpoint = Stream::endpoint(asio::local::stream_protocol::endpoint(value));
        } else {
            const std::uint16_t port = free_loopback_port(io);
            variable = "PORT";
            value = std::to_string(port);
            upstream.endpoint = Stream::endpoint(tcp::endpoint(asio::ip::address_v4::loopback(), port));
        }
        // The channel is close-on-exec once the Worker has it: take it before starting the app.
        Worker worker(io, [&](tcp::socket socket, vhostd::sdk::ConnectionInfo info, Worker::Lease lease) {
            asio::co_spawn(io, relay(upstream, std::move(socket), std::move(info), std::move(lease)), asio::detached);
        });
        const auto command = vhostd::upstream::expand_placeholders(options->command, {{variable, value}});
        // Before the fork, so that an app that exits at once is still signalled.
        asio::signal_set child_exits(io, SIGCHLD);
        const pid_t app = start_app(command, app_environment(variable, value));
        std::cout << "vhostd-upstream: started " << command[0] << " (pid " << app << ") with " << variable << "=" << value << std::endl;

        int exit_code = 0;
        // The app ending ends the worker: vhostd then restarts the pair.
        std::function<void()> watch_app = [&] {
            child_exits.async_wait([&](const boost::system::error_code& ec, int) {
                if (ec) return;
                int status = 0;
                if (::waitpid(app, &status, WNOHANG) == app) {
                    std::cerr << "vhostd-upstream: the app " << describe_status(status) << std::endl;
                    exit_code = 1;
                    io.stop();
                    return;
                }
                watch_app();
            });
        };
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            if (const auto failure = co_await wait_until_accepting(upstream.endpoint, app, options->ready_timeout)) {
                std::cerr << "vhostd-upstream: the app did not accept on " << variable << "=" << value << ": " << *failure
                          << std::endl;
                exit_code = 1;
                io.stop();
                co_return;
            }
            // The readiness probe may have reaped the app already (it then reports a
            // failure above), so from here on SIGCHLD is the only news of its end.
            watch_app();
            worker.ready();
            asio::co_spawn(io, close_idle_relays(upstream, options->idle_timeout), asio::detached);
        }, asio::detached);
        worker.on_drain([&] { upstream.draining = true; });
        io.run();
        stop_app(app);
        if (!socket_dir.empty()) {
            std::error_code ignored;
            std::filesystem::remove_all(socket_dir, ignored);
        }
        return exit_code;
    } catch (const std::exception& e) {
        std::cerr << "vhostd-upstream: " << e.what() << "\n";
        return 1;
    }
}
