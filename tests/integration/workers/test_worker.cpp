// test-worker: a worker that misbehaves on request, for the supervisor's integration tests.
// Answers "test-worker SITE (pid PID) generation GEN requests N" to every request, then the
// client vhostd named ("client ADDRESS:PORT") and, on a TLS listener, what vhostd said of
// the connection: "tls MODE SNI ALPN VERSION CIPHER".
//   --crash-at-start       exit 3 before saying ready
//   --crash-in-slot N      exit 3 before saying ready when started as VHOSTD_WORKER_SLOT N
//   --never-ready          never say ready
//   --crash-after N        exit 3 after answering its Nth request
//   --hang-after N         after its Nth request, block forever (no more heartbeats)
//   --ignore-sigterm       SIGTERM does nothing
//   --ignore-drain         keep serving after vhostd asks to drain
//   --leak-mib N           keep N MiB more memory (touched) for every request
//   --fork-grandchild      start a `sleep 300` child in the worker's process group
//   --chatty N             print N lines of 100 bytes to stdout at start
#include "sdk/cpp/worker.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using vhostd::sdk::Worker;

namespace {

struct Options {
    bool crash_at_start = false;
    long crash_in_slot = -1;
    bool never_ready = false;
    long crash_after = 0;
    long hang_after = 0;
    bool ignore_sigterm = false;
    bool ignore_drain = false;
    long leak_mib = 0;
    bool fork_grandchild = false;
    long chatty_lines = 0;
};

struct State {
    Options options;
    Worker* worker = nullptr;
    long requests = 0;
    std::vector<std::unique_ptr<char[]>> leaked;
    std::string identity;
};

constexpr auto token = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> serve(State& state, tcp::socket socket, std::string connection_note, [[maybe_unused]] Worker::Lease lease) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> request;
        auto [read_error, n] = co_await http::async_read(stream, buffer, request, token);
        if (read_error) break;
        ++state.requests;
        if (state.options.leak_mib > 0) {
            const std::size_t bytes = static_cast<std::size_t>(state.options.leak_mib) << 20;
            auto block = std::make_unique<char[]>(bytes);
            std::memset(block.get(), 1, bytes);
            state.leaked.push_back(std::move(block));
        }
        if (state.options.hang_after > 0 && state.requests >= state.options.hang_after) {
            for (;;) ::pause();  // a hung event loop: no answers, no heartbeats
        }
        http::response<http::string_body> response(http::status::ok, request.version());
        response.set(http::field::content_type, "text/plain");
        response.body() = state.identity + " requests " + std::to_string(state.requests) + "\n" + connection_note;
        response.keep_alive(request.keep_alive() && !(state.worker && state.worker->draining()));
        response.prepare_payload();
        co_await http::async_write(stream, response, token);
        state.worker->request_served();
        if (state.options.crash_after > 0 && state.requests >= state.options.crash_after) std::_Exit(3);
        if (!response.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

Options parse(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto number = [&] { return i + 1 < argc ? std::atol(argv[++i]) : 0L; };
        if (arg == "--crash-at-start") options.crash_at_start = true;
        else if (arg == "--never-ready") options.never_ready = true;
        else if (arg == "--crash-in-slot") options.crash_in_slot = number();
        else if (arg == "--crash-after") options.crash_after = number();
        else if (arg == "--hang-after") options.hang_after = number();
        else if (arg == "--ignore-sigterm") options.ignore_sigterm = true;
        else if (arg == "--ignore-drain") options.ignore_drain = true;
        else if (arg == "--leak-mib") options.leak_mib = number();
        else if (arg == "--fork-grandchild") options.fork_grandchild = true;
        else if (arg == "--chatty") options.chatty_lines = number();
        else {
            std::cerr << "test-worker: unknown option " << arg << "\n";
            std::exit(2);
        }
    }
    return options;
}

}  // namespace

int main(int argc, char** argv) {
    State state;
    state.options = parse(argc, argv);
    if (state.options.crash_at_start) return 3;
    const char* slot = std::getenv("VHOSTD_WORKER_SLOT");
    if (slot != nullptr && std::atol(slot) == state.options.crash_in_slot) return 3;
    if (state.options.ignore_sigterm) ::signal(SIGTERM, SIG_IGN);
    for (long line = 0; line < state.options.chatty_lines; ++line) std::cout << std::string(99, 'x') << '\n';
    std::cout.flush();
    if (state.options.fork_grandchild) {
        const pid_t child = ::fork();
        if (child == 0) {
            ::execl("/bin/sleep", "sleep", "300", static_cast<char*>(nullptr));
            std::_Exit(127);
        }
        std::cout << "grandchild " << child << std::endl;
    }

    asio::io_context io(1);
    Worker worker(io, [&](tcp::socket socket, vhostd::sdk::ConnectionInfo info, Worker::Lease lease) {
        std::string connection_note = "client " + info.remote_address + ":" + std::to_string(info.remote_port) + "\n";
        if (info.tls) {
            connection_note += "tls " + std::string(info.tls->passthrough ? "passthrough " : "terminate ") + info.tls->server_name + " " +
                       info.tls->alpn + " " + info.tls->version + " " + info.tls->cipher + "\n";
        }
        asio::co_spawn(io, serve(state, std::move(socket), std::move(connection_note), std::move(lease)), asio::detached);
    });
    state.worker = &worker;
    const char* generation = std::getenv("VHOSTD_GENERATION");
    state.identity = "test-worker " + worker.site() + " (pid " + std::to_string(::getpid()) + ") generation " + (generation ? generation : "?");
    if (state.options.ignore_drain) {
        worker.on_drain([&io] { asio::post(io, [] { for (;;) ::pause(); }); });  // never finishes
    }
    if (!state.options.never_ready) worker.ready();
    io.run();
    return 0;
}
