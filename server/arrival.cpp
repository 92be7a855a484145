#include "server/arrival.hpp"

#include "accesslog/access_log.hpp"
#include "protocol/socket_family.hpp"
#include "server/address_text.hpp"
#include "server/error_reply.hpp"
#include "server/error_response.hpp"
#include "server/front.hpp"
#include "server/front_thread.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <array>
#include <string>

namespace vhostd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// A connection back in the front for its answer counts as in the front again, so that
// shutdown waits for the answer to go out.
asio::awaitable<void> reply_from_front(Front& front, tcp::socket socket, std::string response) {
    Front::Presence presence(front);
    co_await reply_and_close(std::move(socket), std::move(response));
}

void send_and_close(asio::io_context& io, Front& front, const tcp::endpoint::protocol_type& protocol,
                    protocol::FileDescriptor fd, std::string response) {
    tcp::socket socket(io);
    boost::system::error_code ec;
    socket.assign(protocol, fd.get(), ec);
    if (ec) return;  // `fd` still owns the descriptor and closes it
    fd.release();
    asio::co_spawn(io, reply_from_front(front, std::move(socket), std::move(response)), asio::detached);
}

}  // namespace

std::string describe(const tcp::endpoint& endpoint) {
    return address_text(endpoint.address()) + ":" + std::to_string(endpoint.port());
}

void refuse(const Arrival& arrival, ClientCounts::Refusal refusal, int plain_fd) {
    arrival.thread.stats.refused_over_limit();
    const int status = refusal == ClientCounts::Refusal::waiting ? 503 : 429;
    if (const auto held_back = arrival.thread.over_limit_log.admit(std::chrono::steady_clock::now())) {
        spdlog::warn("{}: {}, {} reached; {} more refused since the last such line", describe(arrival.remote),
                     plain_fd >= 0 ? std::to_string(status) : std::string("closed (TLS)"), describe(refusal), *held_back);
    }
    if (plain_fd < 0) return;
    note_answer(arrival, status);
    // What the client sent is read first: closing with unread bytes would send a reset, which
    // can destroy the answer before the client reads it.
    std::array<char, 16 * 1024> discard;
    for (int reads = 0; reads < 4 && ::recv(plain_fd, discard.data(), discard.size(), MSG_DONTWAIT) > 0; ++reads) {
    }
    const std::string response = error_response(status, 1);
    if (::send(plain_fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) ::shutdown(plain_fd, SHUT_WR);
}

void note_answer(const Arrival& arrival, int status, std::string_view host) {
    arrival.thread.stats.answered(status);
    if (accesslog::enabled()) {
        const std::string address = address_text(arrival.remote.address());
        const std::string outcome = std::to_string(status);
        accesslog::write({address, arrival.remote.port(), host, {}, 0, outcome, 0});
    }
}

void answer(const Arrival& arrival, protocol::FileDescriptor fd, int status, std::string_view host) {
    note_answer(arrival, status, host);
    send_and_close(arrival.thread.io, arrival.front, arrival.transport, std::move(fd), error_response(status));
}

void answer_with(const Arrival& arrival, protocol::FileDescriptor fd, std::string response) {
    send_and_close(arrival.thread.io, arrival.front, arrival.transport, std::move(fd), std::move(response));
}

protocol::ConnectionInfo connection_info(const Arrival& arrival, int fd, std::size_t site, std::string host) {
    tcp::endpoint local;
    if (arrival.local) {
        local = *arrival.local;
    } else {
        socklen_t length = static_cast<socklen_t>(local.capacity());
        if (::getsockname(fd, local.data(), &length) == 0) local.resize(length);
    }
    protocol::ConnectionInfo info;
    info.id = arrival.front.next_connection_id();
    info.site = arrival.routing->sites[site].name;
    info.remote_address = address_text(arrival.remote.address());
    info.remote_port = arrival.remote.port();
    info.local_address = address_text(local.address());
    info.local_port = local.port();
    info.host = std::move(host);
    return info;
}

void log_if_failed(std::exception_ptr error) {
    if (!error) return;
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        spdlog::error("connection ended by an unexpected error: {}", e.what());
    }
}

void hand_over(const Arrival& arrival, protocol::FileDescriptor fd, protocol::ConnectionInfo info, std::string head) {
    arrival.thread.stats.routed(info.site, info.websocket);
    protocol::PendingConnection pending;
    pending.info = std::move(info);
    pending.head = std::move(head);
    pending.accepted_at = arrival.accepted_at;
    // Called on the supervisor's thread: the answer goes back to this connection's thread.
    // A passthrough client waits for a ServerHello: plain text would only be a protocol
    // error to it, so it is closed without an answer.
    // Two references: small enough for std::function to hold without an allocation. The
    // socket's family, which Asio needs, is asked of the socket on this rare path.
    if (pending.info.tls && pending.info.tls->passthrough) {
        pending.reject = [](protocol::FileDescriptor, int, const char*) {};
    } else {
        pending.reject = [&front = arrival.front, &thread = arrival.thread](protocol::FileDescriptor connection, int retry_after, const char*) {
            const tcp transport = protocol::tcp_protocol_of(connection.get());
            send_and_close(thread.io, front, transport, std::move(connection), error_response(503, retry_after));
        };
    }
    pending.socket = std::move(fd);
    arrival.front.dispatcher().dispatch(std::move(pending));
}

}  // namespace vhostd::server
