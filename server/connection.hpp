// A connection's time in the front: peek the head (the bytes stay in the socket), route it,
// then hand it to the dispatcher or answer it. It lives as long as this coroutine.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace vhostd::server {

class Front;

struct FrontThread;

// Runs on `thread`, where the socket was accepted, from start to end.
boost::asio::awaitable<void> handle_connection(boost::asio::ip::tcp::socket socket, Front& front, FrontThread& thread);

}  // namespace vhostd::server
