#include "server/connection.hpp"

#include "http/host.hpp"
#include "protocol/socket_family.hpp"
#include "server/arrival.hpp"
#include "server/auto_tls.hpp"
#include "server/client_hello.hpp"
#include "server/error_reply.hpp"
#include "server/error_response.hpp"
#include "server/front.hpp"
#include "server/front_thread.hpp"
#include "server/once_log.hpp"
#include "server/proxy_header.hpp"
#include "server/tls_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <optional>

namespace vhostd::server {

namespace asio = boost::asio;
using asio::ip::tcp;
using http::HeadParseResult;
using http::HeadStatus;
using http::RequestHead;
using http::leading_empty_line;
using http::parse_request_head;

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
    static OnceLog failure;
    int value = static_cast<int>(bytes);
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &value, sizeof value) != 0) failure.warn("setsockopt(SO_RCVLOWAT)", errno);
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

// What a worker (or the TLS handshake) receives: a blocking socket with the options the
// front touched reset.
void prepare_for_worker(int fd, const SlowHead& slow) {
    static OnceLog blocking_failure;
    static OnceLog peek_offset_failure;
    if (!slow.waited) return;  // nothing was changed
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ((flags & O_NONBLOCK) && ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)) {
        blocking_failure.warn("fcntl(O_NONBLOCK off) for a worker's socket", errno);
    }
    if (slow.peek_offset) {
        int off = -1;
        if (::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off) != 0) peek_offset_failure.warn("setsockopt(SO_PEEK_OFF off)", errno);
    }
}

// "https://host[:port]/path" for a site with https_redirect, or empty when the request
// gives nothing to build it from.
std::string https_location(const Routing& routing, const RequestHead& head) {
    if (!routing.https_port || head.host.empty()) return {};
    std::string location = "https://" + head.host;
    if (*routing.https_port != 443) location += ":" + std::to_string(*routing.https_port);
    std::string_view target = head.target;
    if (!target.starts_with('/')) {  // absolute-form: keep its path; "*" and the rest: the root
        const auto scheme = target.find("://");
        const auto path = scheme == std::string_view::npos ? std::string_view::npos : target.find('/', scheme + 3);
        target = path == std::string_view::npos ? std::string_view("/") : target.substr(path);
    }
    return location.append(target);
}

constexpr char tls_handshake_record = 0x16;  // the first byte of every ClientHello

// The first bytes of a plain-HTTP connection: a request head.
struct PlainHttp {
    using Parsed = HeadParseResult;
    static constexpr bool answers_timeout = true;  // 408
    static constexpr bool tls = false;
    static constexpr bool proxy_header = false;

    static Parsed parse(std::string_view bytes, const Routing& routing) { return parse_request_head(bytes, routing.limits); }
    static bool need_more(const Parsed& parsed) { return parsed.status == HeadStatus::need_more; }

    // The head is complete or wrong: answer it, or hand the connection to its site's worker.
    static void decide(const Arrival& arrival, protocol::FileDescriptor fd, std::string_view head, Parsed& parsed, const SlowHead& slow) {
        const Routing& routing = *arrival.routing;
        if (parsed.status == HeadStatus::error && head.front() == tls_handshake_record) {
            // A TLS client at a plain port cannot read a plain-text answer: close quietly.
            spdlog::debug("{}: closed, a TLS handshake at a plain-HTTP port", describe(arrival.remote));
            arrival.thread.stats.closed_without_answer();
            return;
        }
        if (parsed.status == HeadStatus::error) {
            spdlog::info("{}: {}, {}", describe(arrival.remote), parsed.http_status, parsed.reason);
            answer(arrival, std::move(fd), parsed.http_status);
            return;
        }
        const bool acme_path = parsed.head.target.starts_with(acme_challenge_path);
        if (acme_path && (parsed.head.method == "GET" || parsed.head.method == "HEAD")) {
            // The ACME server checks a name vhostd asked a certificate for: answered before
            // routing. A token vhostd does not know goes on to the site (its own ACME client).
            const std::string_view token = std::string_view(parsed.head.target).substr(acme_challenge_path.size());
            if (const auto key_authorization = arrival.front.auto_tls().http01(token)) {
                spdlog::info("{}: 200, the ACME HTTP-01 challenge for '{}'", describe(arrival.remote), parsed.head.host);
                note_answer(arrival, 200, parsed.head.host);
                answer_with(arrival, std::move(fd), acme_challenge_response(*key_authorization));
                return;
            }
        }
        const std::optional<std::size_t> site = routing.table.lookup(parsed.head.host);
        if (!site) {
            spdlog::info("{}: 404, no site for host '{}'", describe(arrival.remote), parsed.head.host);
            answer(arrival, std::move(fd), 404, parsed.head.host);
            return;
        }
        if (routing.sites[*site].https_redirect && !acme_path) {
            if (std::string location = https_location(routing, parsed.head); !location.empty()) {
                note_answer(arrival, 308, parsed.head.host);
                answer_with(arrival, std::move(fd), redirect_response(location));
                return;
            }
        }

        // The empty line RFC 9112 lets a client send before the request is not part of the
        // request; take it out so the worker sees a request at byte 0 (many parsers refuse it).
        const std::size_t skipped = leading_empty_line(head);
        char discarded[2];
        if (skipped > 0 && ::recv(fd.get(), discarded, skipped, MSG_DONTWAIT) != static_cast<ssize_t>(skipped)) {
            arrival.thread.stats.closed_without_answer();
            return;
        }
        protocol::ConnectionInfo info = connection_info(arrival, fd.get(), *site, parsed.head.host);
        info.websocket = parsed.head.websocket_upgrade;
        info.head_length = parsed.head.length - skipped;
        std::string unread_head(head.substr(skipped, info.head_length));
        prepare_for_worker(fd.get(), slow);
        hand_over(arrival, std::move(fd), std::move(info), std::move(unread_head));
    }
};

// The first bytes of a connection on a `tls = true` listener: a ClientHello, routed by SNI.
struct TlsHello {
    using Parsed = ClientHelloParse;
    static constexpr bool answers_timeout = false;  // no plain-text 408 inside a TLS stream
    static constexpr bool tls = true;
    static constexpr bool proxy_header = false;

    static Parsed parse(std::string_view bytes, const Routing& routing) { return parse_client_hello(bytes, routing.limits.max_head_size); }
    static bool need_more(const Parsed& parsed) { return parsed.status == ClientHelloStatus::need_more; }

    static void decide(const Arrival& arrival, protocol::FileDescriptor fd, std::string_view bytes, Parsed& parsed, const SlowHead& slow) {
        const Routing& routing = *arrival.routing;
        if (parsed.status == ClientHelloStatus::not_tls && !bytes.empty() && bytes.front() >= 'A' && bytes.front() <= 'Z') {
            spdlog::info("{}: 400, plain HTTP sent to a TLS port", describe(arrival.remote));
            answer(arrival, std::move(fd), 400);
            return;
        }
        if (parsed.status != ClientHelloStatus::complete) {
            spdlog::debug("{}: closed, not a TLS ClientHello: {}", describe(arrival.remote), parsed.reason);
            arrival.thread.stats.closed_without_answer();
            return;
        }
        ClientHello& hello = parsed.hello;
        // Without SNI only the default site can match, as for a request without Host.
        const std::optional<std::size_t> site = routing.table.lookup(hello.server_name);
        prepare_for_worker(fd.get(), slow);
        if (std::find(hello.alpn.begin(), hello.alpn.end(), acme::acme_tls_alpn) != hello.alpn.end()) {
            if (auto challenge = arrival.front.auto_tls().tls_alpn01(hello.server_name)) {
                answer_tls_alpn01(arrival, std::move(fd), std::move(hello), std::move(challenge));
                return;
            }
        }
        if (site && routing.sites[*site].tls_mode == conf::TlsMode::passthrough) {
            // The worker terminates TLS itself: it gets the TCP connection with every byte
            // of the ClientHello still unread, and vhostd stays out of the data path. The
            // handoff's host is the name the worker holds every request to; an address in
            // SNI (which only names belong in) leaves it to the first request.
            std::string host = http::is_address(hello.server_name) ? std::string() : hello.server_name;
            protocol::ConnectionInfo info = connection_info(arrival, fd.get(), *site, std::move(host));
            info.head_length = hello.length;
            info.tls.emplace();
            info.tls->passthrough = true;
            info.tls->server_name = hello.server_name;
            hand_over(arrival, std::move(fd), std::move(info), std::string(bytes.substr(0, hello.length)));
            return;
        }
        if (site && routing.sites[*site].acme) {
            const std::shared_ptr<SSL_CTX> certificate = arrival.front.auto_tls().certificate(hello.server_name);
            if (!certificate && routing.sites[*site].on_demand && !hello.server_name.empty() && !http::is_address(hello.server_name)) {
                terminate_tls_on_demand(arrival, std::move(fd), std::move(hello), *site);
                return;
            }
            if (!certificate) {
                // Not obtained yet (or failing: vhostctl certs says why), or a name that is
                // not one of the site's own (SNI that only the default site matched).
                spdlog::info("{}: TLS closed, no certificate for '{}' (site {} has tls = \"auto\")", describe(arrival.remote),
                             hello.server_name, routing.sites[*site].name);
                arrival.thread.stats.tls_handshake_failed();
                return;
            }
            terminate_tls(arrival, std::move(fd), std::move(hello), site, certificate.get());
            return;
        }
        const TlsContexts::Choice certificate = routing.tls.choose(site);
        terminate_tls(arrival, std::move(fd), std::move(hello), certificate.site, certificate.context);
    }
};

template <typename Protocol>
void serve(protocol::FileDescriptor fd, Arrival arrival);

// The first bytes of a connection from a load balancer: a PROXY protocol header, then the
// client's own bytes, which `Next` serves once the header is read out of the socket.
template <typename Next>
struct Proxied {
    using Parsed = ProxyHeaderParse;
    static constexpr bool answers_timeout = false;  // a balancer that stalls gets no HTTP answer
    static constexpr bool tls = Next::tls;
    static constexpr bool proxy_header = true;

    static Parsed parse(std::string_view bytes, const Routing&) { return parse_proxy_header(bytes); }
    static bool need_more(const Parsed& parsed) { return parsed.status == ProxyHeaderStatus::need_more; }

    static void decide(const Arrival& arrival, protocol::FileDescriptor fd, std::string_view, Parsed& parsed, const SlowHead& slow) {
        if (parsed.status == ProxyHeaderStatus::invalid) {
            spdlog::info("{}: closed, {}", describe(arrival.remote), parsed.reason);
            arrival.thread.stats.closed_without_answer();
            return;
        }
        prepare_for_worker(fd.get(), slow);  // back to a plain socket: the next peek starts afresh
        std::array<char, 256> discard;       // a header is at most 16 + 216 bytes with TLVs we skip in chunks
        for (std::size_t left = parsed.header.length; left > 0;) {
            const ssize_t got = ::recv(fd.get(), discard.data(), std::min(left, discard.size()), MSG_DONTWAIT);
            if (got <= 0) {
                arrival.thread.stats.closed_without_answer();
                return;
            }
            left -= static_cast<std::size_t>(got);
        }
        Arrival client = arrival;
        if (!parsed.header.source_address.empty()) {
            boost::system::error_code ec;
            const auto address = asio::ip::make_address(parsed.header.source_address, ec);
            if (!ec) client.remote = tcp::endpoint(address, parsed.header.source_port);
        }
        serve<Next>(std::move(fd), std::move(client));
    }
};

// The first bytes did not come whole with the first peek: wait for the rest, up to
// head_timeout from the accept.
template <typename Protocol>
asio::awaitable<void> wait_for_more(Arrival arrival, tcp::socket socket, std::string bytes, ClientCounts::Slot waiting) {
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    Front::Presence presence(arrival.front);
    const int fd = socket.native_handle();
    const std::size_t cap = arrival.routing->limits.max_head_size + 1;  // one byte more shows "too large"
    SlowHead slow{.waited = true, .peek_offset = enable_peek_offset(fd, bytes.size())};
    std::optional<HeadDeadlines::Entry> deadline;
    deadline.emplace(arrival.thread.deadlines, socket, arrival.accepted_at + arrival.routing->head_timeout, true);
    typename Protocol::Parsed parsed;
    for (;;) {
        if (deadline->released() || arrival.thread.successor) {  // an upgrade: the new vhostd waits for it
            deadline.reset();
            set_receive_low_water(fd, 1);
            prepare_for_worker(fd, slow);
            boost::system::error_code ignored;
            arrival.thread.successor({protocol::FileDescriptor(socket.release(ignored)), arrival.remote, Protocol::tls,
                                      Protocol::proxy_header,
                                      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - arrival.accepted_at)});
            co_return;
        }
        set_receive_low_water(fd, bytes.size() + 1);
        auto [wait_error] = co_await socket.async_wait(tcp::socket::wait_read, token);
        if (deadline->released()) continue;
        if (deadline->expired()) {
            if (bytes.empty() || !Protocol::answers_timeout) {  // never said a word: close quietly
                arrival.thread.stats.closed_without_answer();
                co_return;
            }
            spdlog::info("{}: 408, head incomplete after {} ms ({} bytes)", describe(arrival.remote),
                         arrival.routing->head_timeout.count(), bytes.size());
            deadline.reset();
            set_receive_low_water(fd, 1);
            note_answer(arrival, 408);
            co_await reply_and_close(std::move(socket), error_response(408));
            co_return;
        }
        if (wait_error) {
            arrival.thread.stats.closed_without_answer();
            co_return;
        }
        const PeekResult peeked = peek_more(fd, bytes, cap, slow.peek_offset);
        if (peeked == PeekResult::closed || peeked == PeekResult::failed) {
            spdlog::debug("{}: closed before a complete head ({} bytes)", describe(arrival.remote), bytes.size());
            arrival.thread.stats.closed_without_answer();
            co_return;
        }
        if (peeked == PeekResult::grew) {
            parsed = Protocol::parse(bytes, *arrival.routing);
            if (!Protocol::need_more(parsed)) break;
        }
    }
    deadline.reset();
    waiting = {};  // complete: a TLS connection takes a slot of its own for its handshake
    set_receive_low_water(fd, 1);
    boost::system::error_code ignored;
    protocol::FileDescriptor owned(socket.release(ignored));
    Protocol::decide(arrival, std::move(owned), bytes, parsed, slow);
}

template <typename Protocol>
void serve(protocol::FileDescriptor fd, Arrival arrival) {
    FrontThread& thread = arrival.thread;
    const std::size_t cap = arrival.routing->limits.max_head_size + 1;

    // The usual case: the first bytes are all there at the first peek (TCP_DEFER_ACCEPT
    // waited for them). The connection is answered or handed on right here, with no
    // coroutine, no timer and no socket option touched.
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
        typename Protocol::Parsed parsed = Protocol::parse(first, *arrival.routing);
        if (!Protocol::need_more(parsed)) {
            Protocol::decide(arrival, std::move(fd), first, parsed, SlowHead{});
            return;
        }
    }

    // From here the connection waits, which costs the front memory and a slot.
    ClientCounts::Admission admission = arrival.front.clients().admit(arrival.remote.address(), arrival.routing->caps);
    if (!admission.slot) {
        refuse(arrival, admission.refusal, Protocol::tls ? -1 : fd.get());
        return;
    }
    tcp::socket socket(thread.io);
    boost::system::error_code ec;
    socket.assign(arrival.transport, fd.get(), ec);
    if (ec) return;
    fd.release();
    asio::co_spawn(thread.io, wait_for_more<Protocol>(std::move(arrival), std::move(socket), std::string(first), std::move(admission.slot)),
                   log_if_failed);
}

}  // namespace

void serve_accepted(protocol::FileDescriptor fd, const tcp::endpoint& remote, const std::optional<tcp::endpoint>& local,
                    const conf::Listener& listener, Front& front, FrontThread& thread) {
    Front::Presence presence(front);
    thread.stats.accepted();
    Arrival arrival{front, thread, remote, remote.protocol(), local, std::chrono::steady_clock::now(), front.routing()};
    if (!listener.proxy_protocol) {
        listener.tls ? serve<TlsHello>(std::move(fd), std::move(arrival)) : serve<PlainHttp>(std::move(fd), std::move(arrival));
        return;
    }
    // Only the balancers may say who the client is.
    const auto source = remote.address().is_v4() ? asio::ip::make_address_v6(asio::ip::v4_mapped, remote.address().to_v4()).to_bytes()
                                                 : remote.address().to_v6().to_bytes();
    const bool trusted = std::any_of(listener.proxy_from.begin(), listener.proxy_from.end(),
                                     [&source](const conf::AddressRange& range) { return range.contains(source); });
    if (!trusted) {
        spdlog::info("{}: closed, not in proxy_from", describe(remote));
        thread.stats.refused_over_limit();
        return;
    }
    listener.tls ? serve<Proxied<TlsHello>>(std::move(fd), std::move(arrival)) : serve<Proxied<PlainHttp>>(std::move(fd), std::move(arrival));
}

void serve_adopted(WaitingConnection connection, Front& front, FrontThread& thread) {
    Front::Presence presence(front);
    thread.stats.accepted();
    Arrival arrival{front, thread, connection.remote, protocol::tcp_protocol_of(connection.socket.get()), std::nullopt,
                    std::chrono::steady_clock::now() - connection.waited, front.routing()};
    protocol::FileDescriptor fd = std::move(connection.socket);
    if (connection.proxy_header) {
        connection.tls ? serve<Proxied<TlsHello>>(std::move(fd), std::move(arrival)) : serve<Proxied<PlainHttp>>(std::move(fd), std::move(arrival));
    } else {
        connection.tls ? serve<TlsHello>(std::move(fd), std::move(arrival)) : serve<PlainHttp>(std::move(fd), std::move(arrival));
    }
}

void serve_adopted(protocol::FileDescriptor fd, protocol::ConnectionInfo info, Front& front, FrontThread& thread) {
    Front::Presence presence(front);
    thread.stats.accepted();
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(info.remote_address, ec);
    const tcp::endpoint remote(ec ? asio::ip::address() : address, info.remote_port);
    Arrival arrival{front, thread, remote, remote.protocol(), std::nullopt, std::chrono::steady_clock::now(), front.routing()};
    info.id = front.next_connection_id();  // ids are unique within one vhostd only
    std::string head(info.head_length, '\0');
    const ssize_t got = ::recv(fd.get(), head.data(), head.size(), MSG_PEEK | MSG_DONTWAIT);
    if (got != static_cast<ssize_t>(head.size())) {
        spdlog::warn("{}: closed, its head did not come with it from the old vhostd", describe(remote));
        thread.stats.closed_without_answer();
        return;
    }
    hand_over(arrival, std::move(fd), std::move(info), std::move(head));
}

}  // namespace vhostd::server
