// A connection's time in the front: peek the head (the bytes stay in the socket), route it,
// then hand it to the dispatcher or answer it.
#pragma once

#include "protocol/file_descriptor.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <optional>

namespace vhostd::server {

class Front;
struct FrontThread;

// Takes a connection just accepted on `thread`, where it stays: peeks its head (the bytes
// stay in the socket), routes it, then hands it to the dispatcher or answers it.
void serve_accepted(protocol::FileDescriptor fd, const boost::asio::ip::tcp::endpoint& remote,
                    const std::optional<boost::asio::ip::tcp::endpoint>& local, Front& front, FrontThread& thread);

}  // namespace vhostd::server
