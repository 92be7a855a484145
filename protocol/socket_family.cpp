#include "protocol/socket_family.hpp"

#include <sys/socket.h>

namespace vhostd::protocol {

boost::asio::ip::tcp tcp_protocol_of(int fd) {
    sockaddr_storage own{};
    socklen_t length = sizeof own;
    const bool v6 = ::getsockname(fd, reinterpret_cast<sockaddr*>(&own), &length) == 0 && own.ss_family == AF_INET6;
    return v6 ? boost::asio::ip::tcp::v6() : boost::asio::ip::tcp::v4();
}

}  // namespace vhostd::protocol
