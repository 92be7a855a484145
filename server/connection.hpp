// A connection's time in the front: peek its first bytes (they stay in the socket), route
// them, then hand it to the dispatcher or answer it.
#pragma once

#include "conf/config.hpp"
#include "protocol/file_descriptor.hpp"
#include "protocol/message.hpp"
#include "server/waiting_connection.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <optional>

namespace vhostd::server {

class Front;
struct FrontThread;

// Takes a connection just accepted on `thread`, where it stays. Plain HTTP: peeks the
// request head and routes by Host. `tls`: peeks the ClientHello and routes by SNI, then
// passes the connection through or terminates TLS (tls_connection.hpp). With
// proxy_protocol, the connection must come from `proxy_from` and start with a PROXY header,
// which is read out first; the client is then the one the header names.
void serve_accepted(protocol::FileDescriptor fd, const boost::asio::ip::tcp::endpoint& remote,
                    const std::optional<boost::asio::ip::tcp::endpoint>& local, const conf::Listener& listener, Front& front,
                    FrontThread& thread);

// A connection the vhostd this one replaces released while it waited for its first bytes:
// served on `thread` as if accepted there `connection.waited` ago.
void serve_adopted(WaitingConnection connection, Front& front, FrontThread& thread);

// A connection the vhostd this one replaces had routed and queued for a worker of `info.site`:
// dispatched again here, its head still unread in the socket.
void serve_adopted(protocol::FileDescriptor fd, protocol::ConnectionInfo info, Front& front, FrontThread& thread);

}  // namespace vhostd::server
