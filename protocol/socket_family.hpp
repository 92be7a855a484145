// The Asio protocol of a connected TCP socket received as a bare descriptor (a handoff, an
// inherited socket): tcp::v6() for AF_INET6, else tcp::v4(). One getsockname.
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace vhostd::protocol {

boost::asio::ip::tcp tcp_protocol_of(int fd);

}  // namespace vhostd::protocol
