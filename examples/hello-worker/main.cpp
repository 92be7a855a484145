// hello-worker: the example site. Answers every HTTP request with "hello from SITE (pid N)"
// (and the size of the request body, if any), keeps connections alive and echoes WebSocket
// messages. Under vhostd it gets its connections
// through the SDK; with --listen HOST:PORT it accepts them itself (to compare with the front).
#include "sdk/cpp/host.hpp"
#include "sdk/cpp/worker.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <unistd.h>

#include <iostream>
#include <optional>
#include <unordered_set>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using vhostd::sdk::Worker;

namespace {

constexpr auto idle_timeout = std::chrono::seconds(60);
constexpr auto token = asio::as_tuple(asio::use_awaitable);

struct App {
    std::string greeting;
    Worker* worker = nullptr;                    // null when serving with --listen
    std::unordered_set<beast::tcp_stream*> idle;  // kept-alive connections between requests
    bool draining = false;
};

asio::awaitable<void> echo_websocket(App& app, beast::tcp_stream stream, http::request<http::string_body> request) {
    websocket::stream<beast::tcp_stream> ws(std::move(stream));
    beast::get_lowest_layer(ws).expires_never();
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
// `routed_host` is the Host the front routed the connection on (empty with --listen).
asio::awaitable<void> serve(App& app, tcp::socket socket, std::string routed_host, [[maybe_unused]] Worker::Lease lease) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (bool first = true;; first = false) {
        if (app.draining && !first) break;
        http::request<http::string_body> request;
        stream.expires_after(idle_timeout);
        if (!first) app.idle.insert(&stream);
        auto [read_error, n] = co_await http::async_read(stream, buffer, request, token);
        app.idle.erase(&stream);
        if (read_error) break;

        if (!routed_host.empty() && !vhostd::sdk::same_host(request[http::field::host], routed_host)) {
            http::response<http::string_body> misdirected(http::status::misdirected_request, request.version());
            misdirected.set(http::field::content_type, "text/plain");
            misdirected.body() = "421 this connection is for " + routed_host + "\n";
            misdirected.keep_alive(false);
            misdirected.prepare_payload();
            co_await http::async_write(stream, misdirected, token);
            break;
        }
        if (websocket::is_upgrade(request)) {
            co_await echo_websocket(app, std::move(stream), std::move(request));
            co_return;
        }
        http::response<http::string_body> response(http::status::ok, request.version());
        response.set(http::field::server, "hello-worker");
        response.set(http::field::content_type, "text/plain");
        response.body() = app.greeting;
        if (!request.body().empty()) response.body() += "received " + std::to_string(request.body().size()) + " bytes\n";
        response.keep_alive(request.keep_alive() && !app.draining);
        response.prepare_payload();
        auto [write_error, m] = co_await http::async_write(stream, response, token);
        if (app.worker) app.worker->request_served();
        if (write_error || !response.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(App& app, tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(token);
        if (ec) co_return;
        asio::co_spawn(acceptor.get_executor(), serve(app, std::move(socket), {}, {}), asio::detached);
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
        Worker worker(io, [&app, &io](tcp::socket socket, vhostd::sdk::ConnectionInfo info, Worker::Lease lease) {
            asio::co_spawn(io, serve(app, std::move(socket), std::move(info.host), std::move(lease)), asio::detached);
        });
        app.worker = &worker;
        app.greeting = "hello from " + worker.site() + " (pid " + std::to_string(::getpid()) + ")\n";
        worker.on_drain([&app] {
            app.draining = true;
            for (beast::tcp_stream* stream : app.idle) stream->cancel();
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
