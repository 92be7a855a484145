// One HTTPS request to the ACME server, on its own connection (the client makes a few
// requests a day per certificate): resolve, connect, TLS with SNI and the name checked
// against the trusted roots, write, read at most 1 MiB, close. Every step is bounded by
// `timeout`. An Asio coroutine: it runs on vhostd's event loop and never blocks it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace vhostd::acme {

struct HttpsUrl {
    std::string host;  // a name or an address; an IPv6 one without brackets
    std::string port;  // "443" unless the URL names one
    std::string target;  // path and query, "/" at least
};
// nullopt unless `url` is https://host[:port][/path…] (http:// for parse_http_url).
std::optional<HttpsUrl> parse_https_url(std::string_view url);
std::optional<HttpsUrl> parse_http_url(std::string_view url);
std::optional<HttpsUrl> parse_url(std::string_view url, std::string_view scheme, unsigned default_port);

struct HttpsRequest {
    std::string method;        // "GET", "HEAD", "POST"
    std::string url;
    std::string body;          // POST: a JWS
    std::string content_type;  // POST: "application/jose+json"
};

struct HttpsResponse {
    int status = 0;
    std::string body;
    std::string replay_nonce;  // Replay-Nonce, when given
    std::string location;      // Location, when given
    std::string retry_after;   // Retry-After as sent (seconds or an HTTP date)
    std::string content_type;
};

// Throws boost::system::system_error (with the URL's host in its message) when the request
// cannot be made or answered: name resolution, connection, TLS (an untrusted chain), a
// timeout, a body over 1 MiB.
boost::asio::awaitable<HttpsResponse> https_fetch(boost::asio::any_io_executor executor, boost::asio::ssl::context& tls,
                                                  HttpsRequest request, std::chrono::milliseconds timeout);

// A TLS client context that trusts `ca_bundle` (PEM), or the system's roots when it is
// empty. Throws when the bundle cannot be read.
boost::asio::ssl::context client_context(const std::string& ca_bundle);

}  // namespace vhostd::acme
