#include "server/connection.hpp"

#include "server/error_reply.hpp"
#include "server/front.hpp"
#include "server/front_thread.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <array>
#include <optional>

namespace vhostd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

enum class PeekResult { grew, would_block, closed, failed };

// With SO_PEEK_OFF (TCP since Linux 6.10) each peek returns only bytes not peeked before,
// so a head that trickles in costs a copy of each byte once, not a full re-peek per byte.
bool enable_peek_offset(int fd, std::size_t already_peeked) {
    int offset = static_cast<int>(already_peeked);
    return ::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &offset, sizeof offset) == 0;
}

// Socket options touched only for heads that did not arrive at once: the usual head,
// complete at the first peek, costs no setsockopt at all.
struct SlowHead {
    bool waited = false;       // SO_RCVLOWAT was raised (and Asio may have set O_NONBLOCK)
    bool peek_offset = false;  // SO_PEEK_OFF is on
};

void set_receive_low_water(int fd, std::size_t bytes) {
    int value = static_cast<int>(bytes);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &value, sizeof value);
}

// Appends the bytes that arrived since the last peek to `head`, up to `cap` in all.
PeekResult peek_more(int fd, std::string& head, std::size_t cap, bool peek_offset) {
    thread_local std::array<char, 64 * 1024> scratch;
    const std::size_t want = std::min(scratch.size(), peek_offset ? cap - head.size() : cap);
    ssize_t got;
    do {
        got = ::recv(fd, scratch.data(), want, MSG_PEEK | MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? PeekResult::would_block : PeekResult::failed;
    const auto size = static_cast<std::size_t>(got);
    if (peek_offset) {
        if (size == 0) return PeekResult::closed;
        head.append(scratch.data(), size);
        return PeekResult::grew;
    }
    // Without a peek offset every peek starts at byte 0; a wake-up with nothing new means
    // the client closed (SO_RCVLOWAT keeps us asleep otherwise).
    if (size <= head.size()) return PeekResult::closed;
    head.assign(scratch.data(), size);
    return PeekResult::grew;
}

// What a worker receives: a blocking socket with the options the front touched reset.
void prepare_for_worker(int fd, const SlowHead& slow) {
    if (!slow.waited) return;  // nothing was changed
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (slow.peek_offset) {
        int off = -1;
        ::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off);
    }
}

std::size_t leading_empty_line(std::string_view head) {
    if (head.starts_with("\r\n")) return 2;
    if (head.starts_with('\n')) return 1;
    return 0;
}

std::string describe(const tcp::endpoint& endpoint) {
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

protocol::ConnectionInfo connection_info(const tcp::socket& socket, const tcp::endpoint& remote, const RequestHead& head,
                                         std::uint64_t id, const std::string& site) {
    boost::system::error_code ignored;
    const tcp::endpoint local = socket.local_endpoint(ignored);
    return {
        .id = id,
        .site = site,
        .remote_address = remote.address().to_string(),
        .remote_port = remote.port(),
        .local_address = local.address().to_string(),
        .local_port = local.port(),
        .host = head.host,
        .websocket = head.websocket_upgrade,
        .head_length = head.length,
    };
}

// A connection back in the front for its answer counts as in the front again, so that
// shutdown waits for the answer to go out.
asio::awaitable<void> reply_from_front(Front& front, tcp::socket socket, int status, int retry_after) {
    Front::Presence presence(front);
    co_await reply_and_close(std::move(socket), status, retry_after);
}

}  // namespace

asio::awaitable<void> handle_connection(tcp::socket socket, Front& front, FrontThread& thread) {
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    Front::Presence presence(front);
    const auto accepted_at = std::chrono::steady_clock::now();
    const std::shared_ptr<const Routing> routing = front.routing();  // one version for the whole connection
    const int fd = socket.native_handle();
    SlowHead slow;
    const std::size_t cap = routing->limits.max_head_size + 1;  // one byte more shows "too large"
    boost::system::error_code ignored;
    const tcp::endpoint remote = socket.remote_endpoint(ignored);

    std::string head;
    HeadParseResult parsed;
    std::optional<HeadDeadlines::Entry> deadline;  // only for heads that do not arrive at once
    for (;;) {
        const PeekResult peeked = peek_more(fd, head, cap, slow.peek_offset);
        if (peeked == PeekResult::closed || peeked == PeekResult::failed) {
            spdlog::debug("{}: closed before a complete head ({} bytes)", describe(remote), head.size());
            co_return;
        }
        if (peeked == PeekResult::grew) {
            parsed = parse_request_head(head, routing->limits);
            if (parsed.status != HeadStatus::need_more) break;
        }
        if (!slow.waited) {
            slow.waited = true;
            slow.peek_offset = enable_peek_offset(fd, head.size());
            deadline.emplace(thread.deadlines, socket, accepted_at + routing->head_timeout);
        }
        set_receive_low_water(fd, head.size() + 1);
        auto [wait_error] = co_await socket.async_wait(tcp::socket::wait_read, token);
        if (deadline->expired()) {
            if (head.empty()) co_return;  // never said a word: close quietly
            spdlog::info("{}: 408, head incomplete after {} ms ({} bytes)", describe(remote), routing->head_timeout.count(), head.size());
            deadline.reset();
            set_receive_low_water(fd, 1);
            co_await reply_and_close(std::move(socket), 408);
            co_return;
        }
        if (wait_error) co_return;
    }
    deadline.reset();
    if (slow.waited) set_receive_low_water(fd, 1);

    if (parsed.status == HeadStatus::error) {
        spdlog::info("{}: {}, {}", describe(remote), parsed.http_status, parsed.reason);
        co_await reply_and_close(std::move(socket), parsed.http_status);
        co_return;
    }

    const std::optional<std::size_t> site = routing->table.lookup(parsed.head.host);
    if (!site) {
        spdlog::info("{}: 404, no site for host '{}'", describe(remote), parsed.head.host);
        co_await reply_and_close(std::move(socket), 404);
        co_return;
    }

    // The empty line RFC 9112 lets a client send before the request is not part of the
    // request; take it out so the worker sees a request at byte 0 (many parsers refuse it).
    const std::size_t skipped = leading_empty_line(head);
    char discarded[2];
    if (skipped > 0 && ::recv(fd, discarded, skipped, MSG_DONTWAIT) != static_cast<ssize_t>(skipped)) co_return;
    parsed.head.length -= skipped;

    protocol::PendingConnection pending;
    pending.info = connection_info(socket, remote, parsed.head, front.next_connection_id(), routing->site_names[*site]);
    pending.head = head.substr(skipped, parsed.head.length);
    pending.accepted_at = accepted_at;
    // Called on the supervisor's thread: the answer goes back to this connection's thread.
    pending.reject = [&front, &io = thread.io, protocol = remote.protocol()](protocol::FileDescriptor connection, int retry_after, const char*) {
        tcp::socket answer(io);
        boost::system::error_code ec;
        answer.assign(protocol, connection.release(), ec);
        if (!ec) asio::co_spawn(io, reply_from_front(front, std::move(answer), 503, retry_after), asio::detached);
    };
    prepare_for_worker(fd, slow);
    // The front keeps the fd until a worker has it; from here the dispatcher owns it.
    pending.socket.reset(socket.release());
    front.dispatcher().dispatch(std::move(pending));
}

}  // namespace vhostd::server
