#include "tests/integration/support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <stdexcept>

namespace vhostd::test {

namespace {

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

}  // namespace

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = loopback(0);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) throw std::runtime_error("bind");
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

int Exchange::status() const {
    if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
    return std::atoi(response.substr(9, 3).c_str());
}

std::string Exchange::body() const {
    const auto end = response.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : response.substr(end + 4);
}

Connection::Connection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address = loopback(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd_);
        throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
    }
}

Connection::~Connection() { ::close(fd_); }

void Connection::send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        }
        sent += static_cast<std::size_t>(n);
    }
}

Exchange Connection::read_until(bool (*done)(const std::string&), std::chrono::milliseconds timeout) {
    Exchange result;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[16384];
    while (!(done != nullptr && done(result.response))) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            break;
        }
        pollfd waiting{fd_, POLLIN, 0};
        if (::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) continue;
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n > 0) {
            result.response.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0) {
            result.closed = true;
            break;
        } else if (errno != EINTR) {
            result.reset = errno == ECONNRESET;
            break;
        }
    }
    return result;
}

Exchange Connection::read_all(std::chrono::milliseconds timeout) { return read_until(nullptr, timeout); }

Exchange round_trip(std::uint16_t port, const std::string& request, std::chrono::milliseconds timeout) {
    Connection connection(port);
    connection.send(request);
    return connection.read_all(timeout);
}

Exchange get(std::uint16_t port, const std::string& host, const std::string& path) {
    return round_trip(port, "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
}

std::optional<Exchange> try_get(std::uint16_t port, const std::string& host, const std::string& path) {
    try {
        return get(port, host, path);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::optional<int> pid_in(const std::string& body) {
    static const std::regex pattern(R"(\(pid (\d+)\))");
    std::smatch match;
    if (!std::regex_search(body, match, pattern)) return std::nullopt;
    return std::stoi(match[1].str());
}

}  // namespace vhostd::test
