#include "acme/https_fetch.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/version.hpp>

#include <openssl/ssl.h>

#include <charconv>

namespace vhostd::acme {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr std::size_t max_body = 1024 * 1024;

std::string header(const http::response<http::string_body>& response, std::string_view name) {
    const auto found = response.find(beast::string_view(name.data(), name.size()));
    return found == response.end() ? std::string() : std::string(found->value());
}

}  // namespace

std::optional<HttpsUrl> parse_https_url(std::string_view url) { return parse_url(url, "https://", 443); }
std::optional<HttpsUrl> parse_http_url(std::string_view url) { return parse_url(url, "http://", 80); }

std::optional<HttpsUrl> parse_url(std::string_view url, std::string_view scheme, unsigned default_port) {
    if (!url.starts_with(scheme)) return std::nullopt;
    url.remove_prefix(scheme.size());
    const std::size_t path_at = url.find_first_of("/?");
    std::string_view authority = url.substr(0, path_at);
    HttpsUrl parsed;
    parsed.target = path_at == std::string_view::npos ? "/" : std::string(url.substr(path_at));
    if (parsed.target.front() == '?') parsed.target.insert(0, "/");
    if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no user info
    std::string_view port;
    if (authority.starts_with('[')) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        parsed.host = std::string(authority.substr(1, close - 1));
        const std::string_view rest = authority.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
        if (!rest.empty()) port = rest.substr(1);
    } else {
        const std::size_t colon = authority.rfind(':');
        parsed.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (parsed.host.empty()) return std::nullopt;
    unsigned number = default_port;
    if (!port.empty()) {
        const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
        if (error != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) return std::nullopt;
    }
    parsed.port = std::to_string(number);
    return parsed;
}

asio::ssl::context client_context(const std::string& ca_bundle) {
    asio::ssl::context context(asio::ssl::context::tls_client);
    context.set_verify_mode(asio::ssl::verify_peer);
    if (ca_bundle.empty()) {
        context.set_default_verify_paths();
    } else {
        context.load_verify_file(ca_bundle);
    }
    return context;
}

asio::awaitable<HttpsResponse> https_fetch(asio::any_io_executor executor, asio::ssl::context& tls, HttpsRequest request,
                                           std::chrono::milliseconds timeout) {
    const std::optional<HttpsUrl> url = parse_https_url(request.url);
    if (!url) throw boost::system::system_error(asio::error::invalid_argument, "not an https URL: " + request.url.substr(0, 200));
    const auto failed = [&](const boost::system::system_error& e) {
        return boost::system::system_error(e.code(), url->host + ":" + url->port);
    };
    try {
        tcp::resolver resolver(executor);
        const auto endpoints = co_await resolver.async_resolve(url->host, url->port, asio::use_awaitable);
        beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
        // SNI, and the certificate must name the host.
        if (!SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str())) {
            throw boost::system::system_error(asio::error::invalid_argument, "SNI");
        }
        stream.set_verify_callback(asio::ssl::host_name_verification(url->host));
        beast::get_lowest_layer(stream).expires_after(timeout);
        co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
        co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);

        http::request<http::string_body> outgoing;
        outgoing.method_string(request.method);
        outgoing.target(url->target);
        outgoing.version(11);
        const bool default_port = url->port == "443";
        const std::string host = (url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host) +
                                 (default_port ? "" : ":" + url->port);
        outgoing.set(http::field::host, host);
        outgoing.set(http::field::user_agent, "vhostd-acme");
        outgoing.set(http::field::connection, "close");
        if (!request.content_type.empty()) outgoing.set(http::field::content_type, request.content_type);
        outgoing.body() = std::move(request.body);
        outgoing.prepare_payload();
        beast::get_lowest_layer(stream).expires_after(timeout);
        co_await http::async_write(stream, outgoing, asio::use_awaitable);

        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(max_body);
        if (request.method == "HEAD") parser.skip(true);
        co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
        // Read through the parser, not moved out of it: GCC 12 relocates a moved-out message in
        // the coroutine frame and leaves its short string pointing at the old place.
        const http::response<http::string_body>& response = parser.get();
        // The answer is complete; a server that resets instead of closing TLS loses nothing.
        beast::error_code ignored;
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);

        HttpsResponse result;
        result.status = static_cast<int>(response.result_int());
        result.replay_nonce = header(response, "Replay-Nonce");
        result.location = header(response, "Location");
        result.retry_after = header(response, "Retry-After");
        result.content_type = header(response, "Content-Type");
        result.body = response.body();
        co_return result;
    } catch (const boost::system::system_error& e) {
        throw failed(e);
    }
}

}  // namespace vhostd::acme
