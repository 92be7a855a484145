// Sends one of the front's own answers and closes the connection without resetting it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>

namespace vhostd::server {

// Writes `response` (error_response() or redirect_response()), then closes the way nginx's lingering close
// does: shut down our side, read and discard what the client still sends (bounded in bytes
// and time), then close. Closing with unread bytes would send a RST, and the client could
// lose the answer.
boost::asio::awaitable<void> reply_and_close(boost::asio::ip::tcp::socket socket, std::string response);

// After the last byte to the client: read and discard what it still sends, up to
// `linger_timeout` and a byte limit, so that closing sends a FIN, not a RST.
boost::asio::awaitable<void> linger_before_close(boost::asio::ip::tcp::socket& socket);

}  // namespace vhostd::server
