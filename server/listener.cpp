#include "server/listener.hpp"

#include "server/connection.hpp"
#include "server/front.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>
#include <stdexcept>

namespace vhostd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

tcp::endpoint endpoint_of(const conf::Listener& config) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(config.endpoint.host, ec);
    if (ec) throw std::runtime_error("listener " + config.address + ": bad address: " + ec.message());
    return {address, config.endpoint.port};
}

bool set_int_option(tcp::acceptor& acceptor, int level, int name, int value) {
    return ::setsockopt(acceptor.native_handle(), level, name, &value, sizeof value) == 0;
}

// SO_REUSEPORT would let a second vhostd (same user) share the port silently and take half
// its traffic. A plain bind first tells whether anyone holds the address already.
void refuse_if_taken(const tcp::endpoint& endpoint) {
    asio::io_context probe_io;
    tcp::acceptor probe(probe_io);
    boost::system::error_code ec;
    probe.open(endpoint.protocol(), ec);
    if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
    if (!ec) probe.bind(endpoint, ec);
    if (ec) throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" + std::to_string(endpoint.port()) + ": " + ec.message());
}

}  // namespace

Listener::Listener(Front& front, const conf::Listener& config, unsigned backlog, std::deque<FrontThread>& threads,
                   std::vector<protocol::FileDescriptor> inherited)
    : front_(front), address_(config.address), config_(std::make_shared<const conf::Listener>(config)) {
    const tcp::endpoint endpoint = endpoint_of(config);
    auto add_acceptor = [&](FrontThread& thread) -> tcp::acceptor& {
        auto& acceptor = acceptors_.emplace_back(std::make_unique<Acceptor>(Acceptor{thread, tcp::acceptor(thread.io), std::nullopt}));
        // A listener bound to one address tells each connection its local address for free.
        if (!endpoint.address().is_unspecified()) acceptor->local = endpoint;
        return acceptor->socket;
    };
    if (!inherited.empty()) {
        for (FrontThread& thread : threads) {
            for (const protocol::FileDescriptor& socket : inherited) {
                const int fd = ::fcntl(socket.get(), F_DUPFD_CLOEXEC, 0);
                boost::system::error_code ec;
                if (fd < 0) ec.assign(errno, boost::system::system_category());
                if (!ec) add_acceptor(thread).assign(endpoint.protocol(), fd, ec);
                if (ec && fd >= 0) ::close(fd);
                if (ec) throw std::runtime_error("cannot take over the socket of " + address_ + ": " + ec.message());
            }
        }
        distinct_sockets_ = inherited.size();
        for (std::size_t i = 0; i < distinct_sockets_; ++i) {
            set_int_option(acceptors_[i]->socket, IPPROTO_TCP, TCP_DEFER_ACCEPT, 1);
        }
        return;
    }
    refuse_if_taken(endpoint);
    for (FrontThread& thread : threads) {
        tcp::acceptor& socket = add_acceptor(thread);
        boost::system::error_code ec;
        socket.open(endpoint.protocol(), ec);
        if (!ec) socket.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && !set_int_option(socket, SOL_SOCKET, SO_REUSEPORT, 1)) ec.assign(errno, boost::system::system_category());
        if (!ec && endpoint.address().is_v6()) socket.set_option(asio::ip::v6_only(true), ec);
        if (!ec) socket.bind(endpoint, ec);
        if (!ec) socket.listen(static_cast<int>(backlog), ec);  // the kernel caps it at net.core.somaxconn
        if (ec) throw std::runtime_error("cannot listen on " + address_ + ": " + ec.message());
        // Accept a connection only once its first bytes are there (nginx's "deferred"): the
        // head is then usually complete at the first peek, which saves a wait per
        // connection, and a silent client costs the kernel, not the front. One that stays
        // silent is accepted after about a second and then gets head_timeout as usual.
        set_int_option(socket, IPPROTO_TCP, TCP_DEFER_ACCEPT, 1);
    }
    distinct_sockets_ = acceptors_.size();
}

std::vector<int> Listener::sockets() const {
    std::vector<int> fds;
    for (std::size_t i = 0; i < distinct_sockets_; ++i) fds.push_back(acceptors_[i]->socket.native_handle());
    return fds;
}

void Listener::start() {
    const auto config = config_.load();
    spdlog::info("listening on {}{}{}", address_, config->tls ? " (TLS)" : "", config->proxy_protocol ? " (PROXY protocol)" : "");
    for (auto& acceptor : acceptors_) asio::co_spawn(acceptor->thread.io, accept_loop(*acceptor), asio::detached);
}

void Listener::close() {
    for (auto& acceptor : acceptors_) {
        asio::post(acceptor->thread.io, [&socket = acceptor->socket] {
            boost::system::error_code ignored;
            socket.close(ignored);
        });
    }
}

// Waits until the listening socket is readable, then accepts everything queued with
// accept4() directly: no Asio socket (and no epoll registration) for a connection whose
// head is complete at once, and one wake-up for a burst of connections.
asio::awaitable<void> Listener::accept_loop(Acceptor& acceptor) {
    constexpr int max_accepts_per_wake = 64;  // then let the thread's other work run
    asio::steady_timer pause(acceptor.thread.io);
    acceptor.socket.non_blocking(true);
    while (acceptor.socket.is_open()) {
        auto [wait_error] = co_await acceptor.socket.async_wait(tcp::acceptor::wait_read, asio::as_tuple(asio::use_awaitable));
        if (wait_error || !acceptor.socket.is_open()) break;
        const std::shared_ptr<const conf::Listener> config = config_.load();  // once per wake-up, not per accept
        for (int i = 0; i < max_accepts_per_wake; ++i) {
            tcp::endpoint remote;
            socklen_t length = static_cast<socklen_t>(remote.capacity());
            const int fd = ::accept4(acceptor.socket.native_handle(), remote.data(), &length, SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                if (errno == EINTR || errno == ECONNABORTED) continue;
                // Out of fds or memory: leave the connections in the backlog and try again
                // shortly instead of spinning, and say so once in a while, not 10 times a second.
                const int error = errno;
                if (const auto held_back = acceptor.accept_failures.admit(std::chrono::steady_clock::now())) {
                    spdlog::error("accept on {} failed: {}; retrying every 100ms ({} more failures since the last line)", address_,
                                  std::strerror(error), *held_back);
                }
                pause.expires_after(std::chrono::milliseconds(100));
                co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
                break;
            }
            remote.resize(length);
            try {
                serve_accepted(protocol::FileDescriptor(fd), remote, acceptor.local, *config, front_, acceptor.thread);
            } catch (const std::exception& e) {
                spdlog::error("{}: connection ended by an unexpected error: {}", address_, e.what());
            }
        }
    }
}

}  // namespace vhostd::server
