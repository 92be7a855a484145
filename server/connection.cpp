#include "server/connection.hpp"

#include "accesslog/access_log.hpp"

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

protocol::ConnectionInfo connection_info(const tcp::endpoint& remote, const tcp::endpoint& local, const RequestHead& head,
                                         std::uint64_t id, const std::string& site) {
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

// What is known about a connection from its accept on.
struct Arrival {
    Front& front;
    FrontThread& thread;
    tcp::endpoint remote;
    std::optional<tcp::endpoint> local;  // unset when the listener is bound to a wildcard address
    std::chrono::steady_clock::time_point accepted_at;
    std::shared_ptr<const Routing> routing;  // one version for the whole connection
};

void reply(const Arrival& arrival, protocol::FileDescriptor fd, int status, std::string_view host = {}) {
    arrival.thread.stats.answered(status);
    if (accesslog::enabled()) {
        const std::string address = arrival.remote.address().to_string();
        const std::string outcome = std::to_string(status);
        accesslog::write({address, arrival.remote.port(), host, {}, 0, outcome, 0});
    }
    tcp::socket socket(arrival.thread.io);
    boost::system::error_code ec;
    socket.assign(arrival.remote.protocol(), fd.get(), ec);
    if (ec) return;  // `fd` still owns the descriptor and closes it
    fd.release();
    asio::co_spawn(arrival.thread.io, reply_from_front(arrival.front, std::move(socket), status, 0), asio::detached);
}

// The head is complete or wrong: answer it, or hand the connection to its site's worker.
void finish(const Arrival& arrival, protocol::FileDescriptor fd, std::string_view head, HeadParseResult& parsed, const SlowHead& slow) {
    if (parsed.status == HeadStatus::error) {
        spdlog::info("{}: {}, {}", describe(arrival.remote), parsed.http_status, parsed.reason);
        reply(arrival, std::move(fd), parsed.http_status);
        return;
    }
    const std::optional<std::size_t> site = arrival.routing->table.lookup(parsed.head.host);
    if (!site) {
        spdlog::info("{}: 404, no site for host '{}'", describe(arrival.remote), parsed.head.host);
        reply(arrival, std::move(fd), 404, parsed.head.host);
        return;
    }

    // The empty line RFC 9112 lets a client send before the request is not part of the
    // request; take it out so the worker sees a request at byte 0 (many parsers refuse it).
    const std::size_t skipped = leading_empty_line(head);
    char discarded[2];
    if (skipped > 0 && ::recv(fd.get(), discarded, skipped, MSG_DONTWAIT) != static_cast<ssize_t>(skipped)) {
        arrival.thread.stats.closed_without_answer();
        return;
    }
    parsed.head.length -= skipped;

    tcp::endpoint local;
    if (arrival.local) {
        local = *arrival.local;
    } else {
        socklen_t length = static_cast<socklen_t>(local.capacity());
        if (::getsockname(fd.get(), local.data(), &length) == 0) local.resize(length);
    }
    arrival.thread.stats.routed(arrival.routing->site_names[*site], parsed.head.websocket_upgrade);
    protocol::PendingConnection pending;
    pending.info = connection_info(arrival.remote, local, parsed.head, arrival.front.next_connection_id(),
                                   arrival.routing->site_names[*site]);
    pending.head.assign(head.substr(skipped, parsed.head.length));
    pending.accepted_at = arrival.accepted_at;
    // Called on the supervisor's thread: the answer goes back to this connection's thread.
    pending.reject = [&front = arrival.front, &io = arrival.thread.io, protocol = arrival.remote.protocol()](
                         protocol::FileDescriptor connection, int retry_after, const char*) {
        tcp::socket answer(io);
        boost::system::error_code ec;
        answer.assign(protocol, connection.release(), ec);
        if (!ec) asio::co_spawn(io, reply_from_front(front, std::move(answer), 503, retry_after), asio::detached);
    };
    prepare_for_worker(fd.get(), slow);
    // The front kept the fd until now; from here the dispatcher owns it.
    pending.socket = std::move(fd);
    arrival.front.dispatcher().dispatch(std::move(pending));
}

// A head that did not come whole with the first peek: wait for the rest, up to head_timeout.
asio::awaitable<void> wait_for_head(Arrival arrival, tcp::socket socket, std::string head) {
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    Front::Presence presence(arrival.front);
    const int fd = socket.native_handle();
    const std::size_t cap = arrival.routing->limits.max_head_size + 1;  // one byte more shows "too large"
    SlowHead slow{.waited = true, .peek_offset = enable_peek_offset(fd, head.size())};
    std::optional<HeadDeadlines::Entry> deadline;
    deadline.emplace(arrival.thread.deadlines, socket, arrival.accepted_at + arrival.routing->head_timeout);
    HeadParseResult parsed;
    for (;;) {
        set_receive_low_water(fd, head.size() + 1);
        auto [wait_error] = co_await socket.async_wait(tcp::socket::wait_read, token);
        if (deadline->expired()) {
            if (head.empty()) {  // never said a word: close quietly
                arrival.thread.stats.closed_without_answer();
                co_return;
            }
            spdlog::info("{}: 408, head incomplete after {} ms ({} bytes)", describe(arrival.remote),
                         arrival.routing->head_timeout.count(), head.size());
            deadline.reset();
            set_receive_low_water(fd, 1);
            arrival.thread.stats.answered(408);
            if (accesslog::enabled()) {
                const std::string address = arrival.remote.address().to_string();
                accesslog::write({address, arrival.remote.port(), {}, {}, 0, "408", 0});
            }
            co_await reply_and_close(std::move(socket), 408);
            co_return;
        }
        if (wait_error) {
            arrival.thread.stats.closed_without_answer();
            co_return;
        }
        const PeekResult peeked = peek_more(fd, head, cap, slow.peek_offset);
        if (peeked == PeekResult::closed || peeked == PeekResult::failed) {
            spdlog::debug("{}: closed before a complete head ({} bytes)", describe(arrival.remote), head.size());
            arrival.thread.stats.closed_without_answer();
            co_return;
        }
        if (peeked == PeekResult::grew) {
            parsed = parse_request_head(head, arrival.routing->limits);
            if (parsed.status != HeadStatus::need_more) break;
        }
    }
    deadline.reset();
    set_receive_low_water(fd, 1);
    boost::system::error_code ignored;
    protocol::FileDescriptor owned(socket.release(ignored));
    finish(arrival, std::move(owned), head, parsed, slow);
}

}  // namespace

void serve_accepted(protocol::FileDescriptor fd, const tcp::endpoint& remote, const std::optional<tcp::endpoint>& local,
                    Front& front, FrontThread& thread) {
    Front::Presence presence(front);
    thread.stats.accepted();
    Arrival arrival{front, thread, remote, local, std::chrono::steady_clock::now(), front.routing()};
    const std::size_t cap = arrival.routing->limits.max_head_size + 1;

    // The usual case: the whole head is there at the first peek (TCP_DEFER_ACCEPT waited for
    // its first bytes). It is answered or handed on right here, with no coroutine, no timer
    // and no socket option touched.
    thread_local std::array<char, 64 * 1024> scratch;
    ssize_t got;
    do {
        got = ::recv(fd.get(), scratch.data(), std::min(cap, scratch.size()), MSG_PEEK | MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {  // gone already
        thread.stats.closed_without_answer();
        return;
    }
    const std::string_view first(scratch.data(), got > 0 ? static_cast<std::size_t>(got) : 0);
    if (!first.empty()) {
        HeadParseResult parsed = parse_request_head(first, arrival.routing->limits);
        if (parsed.status != HeadStatus::need_more) {
            finish(arrival, std::move(fd), first, parsed, SlowHead{});
            return;
        }
    }

    tcp::socket socket(thread.io);
    boost::system::error_code ec;
    socket.assign(remote.protocol(), fd.get(), ec);
    if (ec) return;
    fd.release();
    asio::co_spawn(thread.io, wait_for_head(std::move(arrival), std::move(socket), std::string(first)), [](std::exception_ptr error) {
        if (!error) return;
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            spdlog::error("connection ended by an unexpected error: {}", e.what());
        }
    });
}

}  // namespace vhostd::server
