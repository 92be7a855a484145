// A connection still waiting for its first bytes when vhostd is upgraded: it leaves the old
// vhostd's front for the new one's, where it goes on waiting, its bytes still unread.
#pragma once

#include "protocol/file_descriptor.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>

namespace vhostd::server {

struct WaitingConnection {
    protocol::FileDescriptor socket;          // blocking, front options reset
    boost::asio::ip::tcp::endpoint remote;    // the client; the balancer while proxy_header
    bool tls = false;                         // from a tls = true listener: a ClientHello is due
    bool proxy_header = false;                // its PROXY header is still to come (the peer is trusted)
    std::chrono::milliseconds waited{0};      // spent of its head_timeout
};

}  // namespace vhostd::server
