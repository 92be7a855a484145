#include "acme/ask_endpoint.hpp"

#include "acme/https_fetch.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace vhostd::acme {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string ask_url(const std::string& ask, const std::string& name) {
    // Host names are letters, digits, '-' and '.': nothing to percent-encode.
    return ask + (ask.find('?') == std::string::npos ? "?" : "&") + "domain=" + name;
}

asio::awaitable<int> ask_endpoint(asio::any_io_executor executor, std::string url, std::chrono::milliseconds timeout) {
    const std::optional<HttpsUrl> parsed = parse_http_url(url);
    if (!parsed) throw boost::system::system_error(asio::error::invalid_argument, "not an http URL");
    try {
        asio::ip::tcp::resolver resolver(executor);
        const auto endpoints = co_await resolver.async_resolve(parsed->host, parsed->port, asio::use_awaitable);
        beast::tcp_stream stream(executor);
        stream.expires_after(timeout);
        co_await stream.async_connect(endpoints, asio::use_awaitable);
        http::request<http::empty_body> request(http::verb::get, parsed->target, 11);
        request.set(http::field::host, parsed->port == "80" ? parsed->host : parsed->host + ":" + parsed->port);
        request.set(http::field::user_agent, "vhostd-on-demand");
        request.set(http::field::connection, "close");
        co_await http::async_write(stream, request, asio::use_awaitable);
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024);
        co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
        co_return static_cast<int>(parser.get().result_int());
    } catch (const boost::system::system_error& e) {
        throw boost::system::system_error(e.code(), "the on_demand ask endpoint " + parsed->host + ":" + parsed->port);
    }
}

}  // namespace vhostd::acme
