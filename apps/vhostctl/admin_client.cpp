#include "apps/vhostctl/admin_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <exception>
#include <utility>

namespace vhostd::ctl {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Expected failures come back as values, so each can be named by the step that failed.
constexpr auto step = asio::as_tuple(asio::use_awaitable);

// A /status of a few thousand sites is a few MiB; this only stops a runaway answer.
constexpr std::uint64_t body_limit = 64 * 1024 * 1024;

std::string within(std::chrono::milliseconds timeout) {
    const auto ms = timeout.count();
    return "within " + (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms");
}

struct Exchange {
    AdminAddress address;
    http::request<http::string_body> request;
    std::chrono::milliseconds timeout;
};

asio::awaitable<AdminResponse> run(Exchange exchange) {
    const auto executor = co_await asio::this_coro::executor;
    const std::string where = exchange.address.to_string();
    const auto unreachable = [&](const beast::error_code& error) {
        return AdminError("cannot reach the admin endpoint at " + where + ": " +
                          (error == beast::error::timeout ? "no connection " + within(exchange.timeout) : error.message()));
    };
    const auto broken = [&](const beast::error_code& error) {
        return AdminError(error == beast::error::timeout
                              ? "the admin endpoint at " + where + " did not answer " + within(exchange.timeout)
                              : "the admin endpoint at " + where + " broke off the exchange: " + error.message());
    };

    tcp::resolver resolver(executor);
    auto [resolve_error, results] =
        co_await resolver.async_resolve(exchange.address.host, std::to_string(exchange.address.port), step);
    if (resolve_error) throw unreachable(resolve_error);

    beast::tcp_stream stream(executor);
    // One deadline for connect, write and read together: the user waits for all three.
    stream.expires_after(exchange.timeout);
    auto [connect_error, connected_to] = co_await stream.async_connect(results, step);
    if (connect_error) throw unreachable(connect_error);

    auto [write_error, written] = co_await http::async_write(stream, exchange.request, step);
    if (write_error) throw broken(write_error);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    auto [read_error, read] = co_await http::async_read(stream, buffer, parser, step);
    if (read_error) throw broken(read_error);

    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    http::response<http::string_body> response = parser.release();
    co_return AdminResponse{response.result_int(), std::move(response.body())};
}

}  // namespace

std::string AdminAddress::to_string() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<AdminAddress> parse_admin_address(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);

    if (host.starts_with('[')) {
        if (host.size() < 3 || !host.ends_with(']')) return std::nullopt;
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        return std::nullopt;  // "::1:9180" is ambiguous; IPv6 needs brackets
    }
    if (host.empty()) return std::nullopt;

    unsigned port = 0;
    const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
        return std::nullopt;
    }
    return AdminAddress{std::string(host), static_cast<std::uint16_t>(port)};
}

AdminClient::AdminClient(AdminAddress address, std::string token, std::chrono::milliseconds timeout)
    : address_(std::move(address)), token_(std::move(token)), timeout_(timeout) {}

AdminResponse AdminClient::get(std::string_view target) const { return send(false, target); }

AdminResponse AdminClient::post(std::string_view target) const { return send(true, target); }

AdminResponse AdminClient::send(bool post, std::string_view target) const {
    http::request<http::string_body> request(post ? http::verb::post : http::verb::get, target, 11);
    request.set(http::field::host, address_.to_string());
    request.set(http::field::user_agent, "vhostctl");
    if (!token_.empty()) request.set(http::field::authorization, "Bearer " + token_);
    request.keep_alive(false);
    request.prepare_payload();  // a POST says "Content-Length: 0"

    // A private io_context per request keeps the API synchronous; the coroutine only
    // exists to get Beast's deadlines, which apply to asynchronous operations alone.
    asio::io_context io;
    std::optional<AdminResponse> response;
    std::exception_ptr failure;
    asio::co_spawn(io, run(Exchange{address_, std::move(request), timeout_}),
                   [&](std::exception_ptr error, AdminResponse answer) {
                       if (error) {
                           failure = error;
                       } else {
                           response = std::move(answer);
                       }
                   });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*response);
}

}  // namespace vhostd::ctl
