// On-demand TLS's question to the operator's endpoint before a certificate is ordered for a
// name nobody listed: GET ASK?domain=NAME over plain HTTP (a panel on loopback, as with
// Caddy's `ask`); a 2xx answer allows the name. One request per connection, bounded in time.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

namespace vhostd::acme {

// The URL asked for `name`: `ask` with domain=NAME added to its query.
std::string ask_url(const std::string& ask, const std::string& name);

// The answer's status. Throws boost::system::system_error (naming the endpoint) when there is none.
boost::asio::awaitable<int> ask_endpoint(boost::asio::any_io_executor executor, std::string url, std::chrono::milliseconds timeout);

}  // namespace vhostd::acme
