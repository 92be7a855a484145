// A connection's time in the front: peek its first bytes (they stay in the socket), route
// them, then hand it to the dispatcher or answer it.
#pragma once

#include "protocol/file_descriptor.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <optional>

namespace vhostd::server {

class Front;
struct FrontThread;

// Takes a connection just accepted on `thread`, where it stays. Plain HTTP: peeks the
// request head and routes by Host. `tls`: peeks the ClientHello and routes by SNI, then
// passes the connection through or terminates TLS (tls_connection.hpp).
void serve_accepted(protocol::FileDescriptor fd, const boost::asio::ip::tcp::endpoint& remote,
                    const std::optional<boost::asio::ip::tcp::endpoint>& local, bool tls, Front& front, FrontThread& thread);

}  // namespace vhostd::server
