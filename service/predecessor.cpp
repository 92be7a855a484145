#include "service/predecessor.hpp"

#include "service/upgrade_message.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <spdlog/spdlog.h>

#include <fcntl.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace vhostd::service {

namespace asio = boost::asio;

std::unique_ptr<Predecessor> Predecessor::from_environment(asio::io_context& io) {
    const char* value = std::getenv(env_upgrade_fd);
    if (value == nullptr) return nullptr;
    const std::string text(value);
    ::unsetenv(env_upgrade_fd);
    int fd = -1;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), fd);
    if (error != std::errc() || end != text.data() + text.size() || fd < 3 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        throw std::runtime_error(std::string(env_upgrade_fd) + "=\"" + text + "\" is not an open file descriptor");
    }
    return std::make_unique<Predecessor>(io, protocol::FileDescriptor(fd));
}

Predecessor::Predecessor(asio::io_context& io, protocol::FileDescriptor channel) : io_(io), channel_(io.get_executor(), std::move(channel)) {}

void Predecessor::take_over(Waiting waiting, Routed routed) {
    if (const auto ec = channel_.send(protocol::encode_command(protocol::command::ready))) {
        spdlog::error("upgrade: cannot tell the old vhostd that this one is ready: {}", ec.message());
        return;
    }
    asio::co_spawn(io_, receive(std::move(waiting), std::move(routed)), asio::detached);
}

asio::awaitable<void> Predecessor::receive(Waiting waiting, Routed routed) {
    for (;;) {
        protocol::IncomingMessage incoming;
        const boost::system::error_code ec = co_await channel_.receive(incoming);
        if (ec) {
            if (ec == asio::error::eof) {
                spdlog::info("upgrade: the old vhostd has exited; it passed {} connections over", taken_);
            } else {
                spdlog::error("upgrade: the channel from the old vhostd: {} {}", ec.message(), channel_.protocol_error());
            }
            channel_.close();
            co_return;
        }
        if (protocol::command_of(incoming.message) != protocol::command::handle) continue;
        ++taken_;
        const boost::json::value* type = incoming.message.if_contains("type");
        if (type != nullptr && type->is_string() && type->get_string() == waiting_socket_type) {
            if (auto connection = waiting_connection_of(incoming.message, std::move(incoming.fd))) {
                waiting(std::move(*connection));
                continue;
            }
        } else if (auto info = protocol::connection_info_of(incoming.message)) {
            routed(std::move(incoming.fd), std::move(*info));
            continue;
        }
        spdlog::error("upgrade: a connection from the old vhostd came with a message this one cannot read; closed");
    }
}

}  // namespace vhostd::service
