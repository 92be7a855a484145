#include "server/inherited_sockets.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace vhostd::server {

namespace {

// The whole text as a decimal number, or false.
bool parse_number(const char* text, long& out) {
    const char* end = text + std::char_traits<char>::length(text);
    const auto [stop, error] = std::from_chars(text, end, out);
    return error == std::errc() && stop == end && text != end;
}

int socket_option(int fd, int name) {
    int value = 0;
    socklen_t length = sizeof value;
    return ::getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : -1;
}

}  // namespace

ListenFds parse_listen_fds(const char* listen_pid, const char* listen_fds, pid_t self) {
    // Both set, or the fds are not ours to take (systemd always sets both; sd_listen_fds(3)
    // ignores LISTEN_FDS alone the same way).
    if (listen_fds == nullptr || listen_pid == nullptr) return {};
    long pid = 0;
    long count = 0;
    if (!parse_number(listen_pid, pid) || pid <= 0) {
        return {0, "LISTEN_PID must be the pid of this process, not \"" + std::string(listen_pid ? listen_pid : "") + "\""};
    }
    if (pid != self) return {};
    if (!parse_number(listen_fds, count) || count < 0 || count > 4096) {
        return {0, "LISTEN_FDS must be a number of sockets from 0 to 4096, not \"" + std::string(listen_fds) + "\""};
    }
    return {static_cast<std::size_t>(count), {}};
}

InheritedSockets InheritedSockets::from_environment() {
    const ListenFds parsed = parse_listen_fds(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"), ::getpid());
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    if (!parsed.error.empty()) throw std::runtime_error("socket activation: " + parsed.error);
    InheritedSockets inherited;
    for (std::size_t i = 0; i < parsed.count; ++i) {
        const int fd = first_fd + static_cast<int>(i);
        protocol::FileDescriptor owned(fd);
        if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
            spdlog::warn("socket activation: fd {} is not open", fd);
            owned.release();
            continue;
        }
        boost::asio::ip::tcp::endpoint local;
        socklen_t length = static_cast<socklen_t>(local.capacity());
        const bool tcp = socket_option(fd, SO_TYPE) == SOCK_STREAM && socket_option(fd, SO_ACCEPTCONN) == 1 &&
                         ::getsockname(fd, local.data(), &length) == 0 &&
                         (local.data()->sa_family == AF_INET || local.data()->sa_family == AF_INET6);
        if (!tcp) {
            spdlog::warn("socket activation: fd {} is not a listening TCP socket; closed", fd);
            continue;
        }
        local.resize(length);
        inherited.sockets_.push_back({local, std::move(owned)});
    }
    return inherited;
}

std::vector<protocol::FileDescriptor> InheritedSockets::take(const boost::asio::ip::tcp::endpoint& endpoint) {
    std::vector<protocol::FileDescriptor> taken;
    for (Socket& socket : sockets_) {
        if (socket.fd && socket.local == endpoint) taken.push_back(std::move(socket.fd));
    }
    std::erase_if(sockets_, [](const Socket& socket) { return !socket.fd; });
    return taken;
}

void InheritedSockets::close_unclaimed() {
    for (const Socket& socket : sockets_) {
        spdlog::warn("socket activation: no [[listen]] for the socket on {}:{} (fd {}); closed", socket.local.address().to_string(),
                     socket.local.port(), socket.fd.get());
    }
    sockets_.clear();
}

}  // namespace vhostd::server
