// Listening sockets vhostd did not open itself: systemd's (socket activation), or those of
// the vhostd it replaces (an upgrade). Both follow systemd's convention: LISTEN_PID names
// the process they are for, LISTEN_FDS says how many, and they are fds 3, 4, ...
#pragma once

#include "protocol/file_descriptor.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <sys/types.h>

#include <string>
#include <vector>

namespace vhostd::server {

// Pure: how many fds from 3 are this process's. 0 when the variables are unset or meant for
// another process (a parent's, inherited by mistake); `error` when they are malformed.
struct ListenFds {
    std::size_t count = 0;
    std::string error;
};
ListenFds parse_listen_fds(const char* listen_pid, const char* listen_fds, pid_t self);

class InheritedSockets {
public:
    static constexpr int first_fd = 3;

    InheritedSockets() = default;
    // Reads LISTEN_PID and LISTEN_FDS and unsets them with LISTEN_FDNAMES (the workers must
    // not take them for theirs), marks the fds close-on-exec and notes where each listens.
    // An fd that is not a listening TCP socket is closed with a warning. Throws
    // std::runtime_error when the variables are malformed.
    static InheritedSockets from_environment();

    // The fds listening on `endpoint`, taken out: several when the vhostd that passed them
    // had one per front thread.
    std::vector<protocol::FileDescriptor> take(const boost::asio::ip::tcp::endpoint& endpoint);
    // Closes what no listener took (a socket of systemd's that the config does not name),
    // with a warning for each.
    void close_unclaimed();
    std::size_t size() const { return sockets_.size(); }

private:
    struct Socket {
        boost::asio::ip::tcp::endpoint local;
        protocol::FileDescriptor fd;
    };
    std::vector<Socket> sockets_;
};

}  // namespace vhostd::server
