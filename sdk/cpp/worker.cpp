#include "sdk/cpp/worker.hpp"

#include "protocol/environment.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/socket.h>

#include <cstdlib>
#include <iostream>
#include <stdexcept>

namespace vhostd::sdk {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::string env_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : fallback;
}

protocol::FileDescriptor channel_from_environment() {
    const char* value = std::getenv(protocol::env_channel_fd);
    if (value == nullptr) throw std::runtime_error(std::string(protocol::env_channel_fd) + " is not set: not started by vhostd");
    const int fd = std::atoi(value);
    // Programs the worker starts must not inherit the channel (nor pose as its worker).
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    return protocol::FileDescriptor(fd);
}

std::chrono::milliseconds heartbeat_interval_from_environment() {
    const long ms = std::atol(env_or(protocol::env_heartbeat_interval_ms, "1000").c_str());
    return std::chrono::milliseconds(ms > 0 ? ms : 1000);
}

// The handed fd is a connected TCP socket; its family decides the Asio protocol.
tcp protocol_of(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
}

}  // namespace

Worker::Lease::Lease(std::shared_ptr<Worker*> owner) : owner_(std::move(owner)) {}

Worker::Lease::~Lease() {
    if (owner_ && *owner_ != nullptr) (*owner_)->connection_ended();
}

bool Worker::started_by_vhostd() { return std::getenv(protocol::env_channel_fd) != nullptr; }

Worker::Worker(asio::io_context& io, ConnectionHandler on_connection)
    : io_(io),
      on_connection_(std::move(on_connection)),
      channel_(io.get_executor(), channel_from_environment()),
      heartbeat_timer_(io),
      heartbeat_interval_(heartbeat_interval_from_environment()),
      site_(env_or(protocol::env_site, "")),
      self_(std::make_shared<Worker*>(this)) {
    asio::co_spawn(io_, receive_loop(), asio::detached);
}

Worker::~Worker() { *self_ = nullptr; }

void Worker::ready() {
    channel_.send(protocol::encode_command(protocol::command::ready));
    asio::co_spawn(io_, heartbeat_loop(), asio::detached);
}

asio::awaitable<void> Worker::receive_loop() {
    for (;;) {
        protocol::IncomingMessage incoming;
        const boost::system::error_code ec = co_await channel_.receive(incoming);
        if (ec) {
            if (ec != asio::error::operation_aborted && !finished_) {
                if (ec != asio::error::eof) std::cerr << "vhostd channel: " << ec.message() << " " << channel_.protocol_error() << "\n";
                start_draining();  // vhostd is gone: finish what we have and exit
            }
            co_return;
        }
        const std::string_view command = protocol::command_of(incoming.message);
        if (command == protocol::command::handle) {
            // Acknowledge first: from here on vhostd must not give this connection to another worker.
            channel_.send(protocol::encode_command(protocol::command::handle_ack));
            auto info = protocol::connection_info_of(incoming.message);
            tcp::socket socket(io_);
            boost::system::error_code assign_error;
            socket.assign(protocol_of(incoming.fd.get()), incoming.fd.get(), assign_error);
            if (assign_error || !info) continue;  // incoming.fd still owns (and closes) it
            incoming.fd.release();
            ++active_;
            on_connection_(std::move(socket), std::move(*info), Lease(self_));
        } else if (command == protocol::command::drain) {
            start_draining();
        }
    }
}

asio::awaitable<void> Worker::heartbeat_loop() {
    while (!finished_) {
        channel_.send(protocol::encode_heartbeat({active_, requests_, websockets_}));
        heartbeat_timer_.expires_after(heartbeat_interval_);
        auto [ec] = co_await heartbeat_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
    }
}

void Worker::start_draining() {
    if (draining_) return;
    draining_ = true;
    if (on_drain_) on_drain_();
    finish_if_idle();
}

void Worker::connection_ended() {
    --active_;
    finish_if_idle();
}

void Worker::finish_if_idle() {
    if (!draining_ || active_ != 0 || finished_) return;
    finished_ = true;
    heartbeat_timer_.cancel();
    channel_.close();
    io_.stop();
}

}  // namespace vhostd::sdk
