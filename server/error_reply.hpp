// Sends one of the front's own answers and closes the connection without resetting it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace vhostd::server {

// Writes error_response(status, retry_after), then closes the way nginx's lingering close
// does: shut down our side, read and discard what the client still sends (bounded in bytes
// and time), then close. Closing with unread bytes would send a RST, and the client could
// lose the answer.
boost::asio::awaitable<void> reply_and_close(boost::asio::ip::tcp::socket socket, int status, int retry_after_seconds = 0);

}  // namespace vhostd::server
