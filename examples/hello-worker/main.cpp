// hello-worker: the example site. Answers every HTTP request with "hello from SITE (pid N)"
// (and the size of the request body, if any), keeps connections alive and echoes WebSocket
// messages. Under vhostd it gets its connections
// through the SDK (and terminates TLS itself for a passthrough site); with --listen
// HOST:PORT it accepts them itself (to compare with the front).
#include "sdk/cpp/request_reader.hpp"
#include "sdk/cpp/tls.hpp"
#include "sdk/cpp/worker.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <unistd.h>

#include <iostream>
#include <list>
#include <optional>
#include <sstream>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using vhostd::sdk::ConnectionHost;
using vhostd::sdk::Worker;
using TlsStream = asio::ssl::stream<tcp::socket>;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto idle_timeout = std::chrono::seconds(60);
// While draining, a kept-alive connection is closed once idle this long. Closing it at once
// would race a client whose next request is already on its way (a busy one sends it as soon
// as the answer arrives), and that request would fail; a connection this quiet is one a
// client must expect to find closed, as after any keep-alive timeout.
constexpr auto drain_idle_timeout = std::chrono::milliseconds(500);
constexpr auto token = asio::as_tuple(asio::use_awaitable);

// A connection between requests: what the idle reaper and a drain look at.
struct Session {
    tcp::socket* socket;
    const beast::flat_buffer* received;  // what is read and not yet parsed: a next head in part
    std::chrono::steady_clock::time_point idle_since;
};

struct App {
    std::string greeting;
    Worker* worker = nullptr;  // null when serving with --listen
    std::list<Session> idle;   // kept-alive connections waiting for their next request
    bool draining = false;
    vhostd::sdk::RequestLimits limits = vhostd::sdk::RequestLimits::from_environment();
    // The usual answers, serialised once: [HTTP/1.0 or 1.1][keep-alive or close].
    std::string canned[2][2];
};

std::string serialize(const http::response<http::string_body>& response) {
    std::ostringstream out;
    out << response;
    return out.str();
}

void prepare_canned_answers(App& app) {
    for (int minor = 0; minor < 2; ++minor) {
        for (int keep_alive = 0; keep_alive < 2; ++keep_alive) {
            http::response<http::string_body> response(http::status::ok, 10 + minor);
            response.set(http::field::server, "hello-worker");
            response.set(http::field::content_type, "text/plain");
            response.body() = app.greeting;
            response.keep_alive(keep_alive == 1);
            response.prepare_payload();
            app.canned[minor][keep_alive] = serialize(response);
        }
    }
}

void close_idle(App& app) {
    const auto now = std::chrono::steady_clock::now();
    const auto limit = app.draining ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(drain_idle_timeout)
                                    : std::chrono::duration_cast<std::chrono::steady_clock::duration>(idle_timeout);
    for (Session& session : app.idle) {
        // A next head partly here is not idle: it is let finish, or stall into idle_timeout's 408.
        const auto allowed = session.received->size() == 0 ? limit : std::chrono::steady_clock::duration(idle_timeout);
        if (now - session.idle_since >= allowed) session.socket->cancel();
    }
}

// One timer for the whole process closes connections idle longer than idle_timeout, instead
// of a timer armed around every read.
asio::awaitable<void> reap_idle(App& app) {
    asio::steady_timer tick(co_await asio::this_coro::executor);
    for (;;) {
        tick.expires_after(app.draining ? drain_idle_timeout / 5 : std::chrono::seconds(1));
        co_await tick.async_wait(token);
        close_idle(app);
    }
}

// The end of a connection: our FIN (after close_notify under TLS, waiting at most a second
// for the client's).
asio::awaitable<void> finish(tcp::socket& socket) {
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
}

asio::awaitable<void> finish(TlsStream& stream) {
    asio::steady_timer limit(stream.get_executor(), std::chrono::seconds(1));
    co_await (stream.async_shutdown(token) || limit.async_wait(token));
    co_await finish(stream.next_layer());
}

template <typename Stream>
asio::awaitable<void> echo_websocket(App& app, Stream stream, http::request<http::string_body> request) {
    websocket::stream<Stream> ws(std::move(stream));
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    auto [accept_error] = co_await ws.async_accept(request, token);
    if (accept_error) co_return;
    if (app.worker) app.worker->websocket_opened();
    beast::flat_buffer buffer;
    for (;;) {
        auto [read_error, n] = co_await ws.async_read(buffer, token);
        if (read_error) break;
        ws.text(ws.got_text());
        auto [write_error, m] = co_await ws.async_write(buffer.data(), token);
        if (write_error) break;
        buffer.consume(buffer.size());
    }
    if (app.worker) app.worker->websocket_closed();
}

// `lease` lives in the coroutine frame: the connection counts as active until serve() ends.
// Every request is read by vhostd's grammar (sdk/cpp/request_reader.hpp), for `host` only.
template <typename Stream>
asio::awaitable<void> serve(App& app, Stream socket, ConnectionHost host, [[maybe_unused]] Worker::Lease lease) {
    beast::flat_buffer buffer;
    for (bool first = true;; first = false) {
        // Draining: the last answer may have promised keep-alive, so the next request may be
        // on its way already. Wait for it as usual: it is answered with Connection: close,
        // and a connection that stays quiet is closed after drain_idle_timeout.
        http::request_parser<http::string_body> parser;
        std::optional<std::list<Session>::iterator> waiting;
        if (!first) waiting = app.idle.insert(app.idle.end(), Session{&beast::get_lowest_layer(socket), &buffer, std::chrono::steady_clock::now()});
        const vhostd::sdk::HeadRead read = co_await vhostd::sdk::read_request_head(socket, buffer, parser, host, app.limits);
        if (waiting) app.idle.erase(*waiting);
        std::optional<vhostd::sdk::Refusal> refusal = read.refusal;
        if (read.ok && !websocket::is_upgrade(parser.get())) {
            refusal = co_await vhostd::sdk::read_request_body(socket, buffer, parser, read.head, app.limits);
        }
        if (refusal) {
            co_await vhostd::sdk::refuse(socket, *refusal);  // which ends the connection
            co_return;
        }
        if (!read.ok || !parser.is_done()) break;  // the client left
        http::request<http::string_body> request = parser.release();
        if (websocket::is_upgrade(request)) {
            co_await echo_websocket(app, std::move(socket), std::move(request));
            co_return;
        }
        const bool keep_alive = request.keep_alive() && !app.draining;
        boost::system::error_code write_error;
        if (request.body().empty()) {
            std::string_view answer = app.canned[request.version() == 10 ? 0 : 1][keep_alive ? 1 : 0];
            if (request.method() == http::verb::head) answer = answer.substr(0, answer.find("\r\n\r\n") + 4);  // no body
            std::tie(write_error, std::ignore) = co_await asio::async_write(socket, asio::buffer(answer), token);
        } else {
            http::response<http::string_body> response(http::status::ok, request.version());
            response.set(http::field::server, "hello-worker");
            response.set(http::field::content_type, "text/plain");
            response.body() = app.greeting + "received " + std::to_string(request.body().size()) + " bytes\n";
            response.keep_alive(keep_alive);
            response.prepare_payload();
            std::tie(write_error, std::ignore) = co_await http::async_write(socket, response, token);
        }
        if (app.worker) app.worker->request_served();
        if (write_error || !keep_alive) break;
    }
    co_await finish(socket);
}

// A passthrough site's connection: the ClientHello is still unread in the socket.
asio::awaitable<void> serve_tls(App& app, TlsStream stream, ConnectionHost host, Worker::Lease lease) {
    // TLS sends several small records in a row (session tickets, then the answer): without
    // TCP_NODELAY, Nagle holds the answer back until the client's delayed ACK, 40 ms.
    boost::system::error_code ignored;
    stream.next_layer().set_option(tcp::no_delay(true), ignored);
    asio::steady_timer limit(stream.get_executor(), std::chrono::seconds(10));
    auto handshake = co_await (stream.async_handshake(asio::ssl::stream_base::server, token) || limit.async_wait(token));
    if (handshake.index() != 0 || std::get<0>(std::get<0>(handshake))) co_return;
    co_await serve(app, std::move(stream), std::move(host), std::move(lease));
}

asio::awaitable<void> accept_loop(App& app, tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(token);
        if (ec) co_return;
        asio::co_spawn(acceptor.get_executor(), serve(app, std::move(socket), ConnectionHost::from_first_request(), {}),
                       asio::detached);
    }
}

std::optional<tcp::endpoint> parse_endpoint(const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    try {
        return tcp::endpoint(address, static_cast<unsigned short>(std::stoul(text.substr(colon + 1))));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

int usage() {
    std::cerr << "usage: hello-worker                      (started by vhostd)\n"
                 "       hello-worker --listen HOST:PORT [--site NAME] [--reuse-port]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::optional<tcp::endpoint> listen;
    std::string site = "direct";
    bool reuse_port = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--listen" && i + 1 < argc) {
            listen = parse_endpoint(argv[++i]);
            if (!listen) return usage();
        } else if (arg == "--site" && i + 1 < argc) {
            site = argv[++i];
        } else if (arg == "--reuse-port") {
            reuse_port = true;
        } else {
            return usage();
        }
    }

    asio::io_context io(1);
    App app;
    try {
        if (listen) {
            app.greeting = "hello from " + site + " (pid " + std::to_string(::getpid()) + ")\n";
            prepare_canned_answers(app);
            asio::co_spawn(io, reap_idle(app), asio::detached);
            tcp::acceptor acceptor(io);
            acceptor.open(listen->protocol());
            acceptor.set_option(tcp::acceptor::reuse_address(true));
            if (reuse_port) {
                int on = 1;
                ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
            }
            acceptor.bind(*listen);
            acceptor.listen(asio::socket_base::max_listen_connections);
            asio::co_spawn(io, accept_loop(app, acceptor), asio::detached);
            io.run();
            return 0;
        }
        if (!Worker::started_by_vhostd()) return usage();
        std::optional<asio::ssl::context> tls;
        if (vhostd::sdk::has_tls_certificates()) tls.emplace(vhostd::sdk::server_tls_context());
        Worker worker(io, [&app, &io, &tls](tcp::socket socket, vhostd::sdk::ConnectionInfo info, Worker::Lease lease) {
            if (info.tls && info.tls->passthrough) {
                if (!tls) {
                    std::cerr << "hello-worker: a passthrough connection, but vhostd passed no certificates\n";
                    return;
                }
                // vhostd routed on SNI alone: every request must be for its name.
                asio::co_spawn(io, serve_tls(app, TlsStream(std::move(socket), *tls), ConnectionHost::of_handoff(info), std::move(lease)),
                               asio::detached);
                return;
            }
            asio::co_spawn(io, serve(app, std::move(socket), ConnectionHost::of_handoff(info), std::move(lease)),
                           asio::detached);
        });
        app.worker = &worker;
        app.greeting = "hello from " + worker.site() + " (pid " + std::to_string(::getpid()) + ")\n";
        prepare_canned_answers(app);
        asio::co_spawn(io, reap_idle(app), asio::detached);
        worker.on_drain([&app] {
            app.draining = true;
            close_idle(app);  // those idle long enough now; the reaper takes the others
        });
        worker.ready();
        std::cout << "hello-worker for site " << worker.site() << " ready" << std::endl;
        io.run();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "hello-worker: " << e.what() << "\n";
        return 1;
    }
}
