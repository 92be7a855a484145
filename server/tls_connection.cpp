#include "server/tls_connection.hpp"

#include "server/error_reply.hpp"
#include "server/error_response.hpp"
#include "server/front.hpp"
#include "server/front_thread.hpp"
#include "server/once_log.hpp"
#include "http/request_head.hpp"
#include "server/tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace vhostd::server {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::ip::tcp;
using http::HeadLimits;
using http::HeadParseResult;
using http::HeadStatus;
using http::leading_empty_line;
using http::parse_request_head;
using WorkerEnd = asio::local::stream_protocol::socket;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t record_size = 16 * 1024;  // the largest TLS record: one read's worth
constexpr auto answer_timeout = std::chrono::seconds(5);
constexpr auto send_timeout = std::chrono::seconds(60);

// One of the front's own answers, through TLS, then close_notify and a lingering close.
asio::awaitable<void> answer_over_tls(TlsStream& tls, std::string response) {
    asio::steady_timer deadline(tls.socket().get_executor(), answer_timeout);
    auto written = co_await (tls.write_all(response) || deadline.async_wait(token));
    if (written.index() == 0 && std::get<0>(written)) {
        tls.close_notify();
        co_await linger_before_close(tls.socket());
    }
}

asio::awaitable<void> until_cancelled() {
    asio::steady_timer never(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
    co_await never.async_wait(token);
}

// The relay holds no buffer while a connection is idle: each direction waits for readiness,
// then moves what is there through one per-thread buffer without waiting. Only bytes the
// other side cannot take at once are copied to the heap, until they are written. (Two
// 16 KiB buffers per connection would be most of what an idle relay costs.)
thread_local std::array<char, record_size> relay_buffer;

// Client -> worker. Returns only when the client connection fails (the relay is over);
// at the client's end of stream it passes the EOF on to the worker and lets the other
// direction finish the response.
asio::awaitable<void> client_to_worker(TlsStream& tls, WorkerEnd& worker, bool& client_finished) {
    auto wait = tcp::socket::wait_read;
    for (bool ready = false;; ready = false) {
        if (tls.write_pending()) {
            // The other direction retries its record once the socket takes it; read after.
            wait = tcp::socket::wait_write;
        } else if (wait == tcp::socket::wait_read && tls.has_decrypted()) {
            ready = true;
        }
        if (!ready) {
            auto [error] = co_await tls.socket().async_wait(wait, token);
            if (error) co_return;
            if (tls.write_pending()) continue;
        }
        const TlsStream::Result read = tls.try_read(relay_buffer.data(), relay_buffer.size());
        if (read.attempt == TlsStream::Attempt::failed) co_return;
        wait = read.attempt == TlsStream::Attempt::want_write ? tcp::socket::wait_write : tcp::socket::wait_read;
        if (read.attempt == TlsStream::Attempt::end) {
            client_finished = true;
            boost::system::error_code ignored;
            worker.shutdown(WorkerEnd::shutdown_send, ignored);
            break;
        }
        if (read.attempt != TlsStream::Attempt::done) continue;
        const ssize_t sent = ::send(worker.native_handle(), relay_buffer.data(), read.bytes, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN) break;  // the worker closed: what it wrote before is still to be relayed
        const std::size_t taken = sent < 0 ? 0 : static_cast<std::size_t>(sent);
        if (taken < read.bytes) {
            const std::string rest(relay_buffer.data() + taken, read.bytes - taken);
            auto [error, written] = co_await asio::async_write(worker, asio::buffer(rest), token);
            if (error) break;
        }
    }
    co_await until_cancelled();
}

// Worker -> client. True when the worker ended the stream (its response is complete).
asio::awaitable<bool> worker_to_client(WorkerEnd& worker, TlsStream& tls) {
    asio::steady_timer send_limit(worker.get_executor());
    for (;;) {
        auto [error] = co_await worker.async_wait(WorkerEnd::wait_read, token);
        if (error) co_return false;
        const ssize_t got = ::recv(worker.native_handle(), relay_buffer.data(), relay_buffer.size(), MSG_DONTWAIT);
        // A worker that closes with bytes of ours unread (it answered without reading an
        // upload) makes the kernel report ECONNRESET after its last bytes: an end too.
        if (got == 0 || (got < 0 && errno == ECONNRESET)) co_return true;
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            co_return false;
        }
        std::size_t written = 0;
        TlsStream::Result result{TlsStream::Attempt::done};
        while (written < static_cast<std::size_t>(got) && result.attempt == TlsStream::Attempt::done) {
            result = tls.try_write(relay_buffer.data() + written, static_cast<std::size_t>(got) - written);
            if (result.attempt == TlsStream::Attempt::done) written += result.bytes;
        }
        if (result.attempt == TlsStream::Attempt::failed || result.attempt == TlsStream::Attempt::end) co_return false;
        if (written < static_cast<std::size_t>(got)) {
            // A client that takes nothing for this long is gone (nginx's send_timeout).
            const std::string rest(relay_buffer.data() + written, static_cast<std::size_t>(got) - written);
            send_limit.expires_after(send_timeout);
            auto sent = co_await (tls.write_all(rest) || send_limit.async_wait(token));
            if (sent.index() != 0 || !std::get<0>(sent)) co_return false;
        }
    }
}

asio::awaitable<void> relay(TlsStream& tls, WorkerEnd& worker) {
    bool client_finished = false;
    auto ended = co_await (client_to_worker(tls, worker, client_finished) || worker_to_client(worker, tls));
    const bool worker_finished = ended.index() == 1 && std::get<1>(ended);
    if (worker_finished) {
        tls.close_notify();
        if (!client_finished) co_await linger_before_close(tls.socket());
    }
}

// Reads until `bytes` holds a complete head or an error; need_more when the stream ended
// or the deadline cancelled the read. Its own frame, so the read buffer is gone by the relay.
asio::awaitable<HeadParseResult> read_head(TlsStream& tls, std::string& bytes, const HeadLimits& limits) {
    std::array<char, record_size> chunk;
    HeadParseResult parsed;
    while (parsed.status == HeadStatus::need_more) {
        const long got = co_await tls.read_some(chunk.data(), chunk.size());
        if (got <= 0) break;
        bytes.append(chunk.data(), static_cast<std::size_t>(got));
        parsed = parse_request_head(bytes, limits);
    }
    co_return parsed;
}

// The handshake, counted among the thread's handshakes in progress while it lasts.
asio::awaitable<bool> handshake(const Arrival& arrival, TlsStream& tls, const ClientHello& hello) {
    TlsHandshakes::Entry in_progress(arrival.thread.handshakes, tls.socket(), arrival.routing->tls_handshakes_per_thread);
    if (co_await tls.handshake()) co_return true;
    if (!in_progress.dropped()) {
        arrival.thread.stats.tls_handshake_failed();
        spdlog::debug("{}: TLS handshake for '{}' failed: {}", describe(arrival.remote), hello.server_name, tls.failure());
    } else {
        arrival.thread.stats.tls_handshake_dropped();
        if (const auto held_back = arrival.thread.dropped_handshake_log.admit(std::chrono::steady_clock::now())) {
            spdlog::warn("{}: TLS handshake for '{}' closed unfinished: it was the oldest of the {} in progress on this "
                         "front thread ([server] max_tls_handshakes); {} more since the last such line",
                         describe(arrival.remote), hello.server_name, arrival.routing->tls_handshakes_per_thread, *held_back);
        }
    }
    co_return false;
}

asio::awaitable<void> serve_tls(Arrival arrival, TlsStream tls, ClientHello hello, std::optional<std::size_t> certificate_site) {
    std::optional<Front::Presence> in_front(std::in_place, arrival.front);
    const Routing& routing = *arrival.routing;
    // Waiting from here (handshake and head), then held while relayed.
    ClientCounts::Admission admission = arrival.front.clients().admit(arrival.remote.address(), routing.caps);
    if (!admission.slot) {
        refuse(arrival, admission.refusal);
        co_return;
    }
    std::optional<HeadDeadlines::Entry> deadline;
    deadline.emplace(arrival.thread.deadlines, tls.socket(), arrival.accepted_at + routing.head_timeout);

    if (!co_await handshake(arrival, tls, hello)) co_return;

    // The head, decrypted: read (not peeked) into `bytes`, which go to the worker first.
    std::string bytes;
    HeadParseResult parsed = co_await read_head(tls, bytes, routing.limits);
    if (parsed.status == HeadStatus::need_more) {
        if (deadline->expired() && !bytes.empty()) {
            deadline.reset();
            spdlog::info("{}: 408, head incomplete after {} ms ({} bytes)", describe(arrival.remote), routing.head_timeout.count(), bytes.size());
            note_answer(arrival, 408);
            co_await answer_over_tls(tls, error_response(408));
        } else {
            arrival.thread.stats.closed_without_answer();
        }
        co_return;
    }
    deadline.reset();

    const std::string& host = parsed.head.host;
    std::optional<std::size_t> site;
    int refusal = 0;
    if (parsed.status == HeadStatus::error) {
        spdlog::info("{}: {}, {}", describe(arrival.remote), parsed.http_status, parsed.reason);
        refusal = parsed.http_status;
    } else if (site = routing.table.lookup(host); !site) {
        spdlog::info("{}: 404, no site for host '{}'", describe(arrival.remote), host);
        refusal = 404;
    } else if (site != certificate_site || routing.sites[*site].tls_mode == conf::TlsMode::passthrough) {
        // The certificate is another site's (SNI named another site, or none, or a site
        // without a certificate): one site's certificate must never front another's pages.
        spdlog::info("{}: 421, Host '{}' is not served under TLS name '{}'", describe(arrival.remote), host, hello.server_name);
        refusal = 421;
    }
    if (refusal != 0) {
        note_answer(arrival, refusal, host);
        co_await answer_over_tls(tls, error_response(refusal));
        co_return;
    }

    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, ends) != 0) {
        spdlog::error("{}: 503, no socketpair for the relay: {}", describe(arrival.remote), std::strerror(errno));
        note_answer(arrival, 503, host);
        co_await answer_over_tls(tls, error_response(503, 1));
        co_return;
    }
    protocol::FileDescriptor our_end(ends[0]);
    protocol::FileDescriptor worker_end(ends[1]);
    // The worker gets its end blocking, like every handed connection.
    static OnceLog blocking_failure;
    if (const int flags = ::fcntl(worker_end.get(), F_GETFL); flags < 0 || ::fcntl(worker_end.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
        blocking_failure.warn("fcntl(O_NONBLOCK off) for a relay's worker end", errno);
    }
    WorkerEnd ours(arrival.thread.io);
    boost::system::error_code ec;
    ours.assign(asio::local::stream_protocol(), our_end.get(), ec);
    if (ec) {
        spdlog::error("{}: 503, cannot use the relay's socket: {}", describe(arrival.remote), ec.message());
        note_answer(arrival, 503, host);
        co_await answer_over_tls(tls, error_response(503, 1));
        co_return;
    }
    our_end.release();
    // What was read so far, without the optional empty line before the request, waits for
    // the worker in its end of the pair. Usually all of it fits at once; the rest of a very
    // large head (max_head_size allows 1 MiB) follows once the worker reads.
    std::string_view unread = std::string_view(bytes).substr(leading_empty_line(bytes));
    const ssize_t queued = ::send(ours.native_handle(), unread.data(), unread.size(), MSG_NOSIGNAL);
    const std::size_t head_length = parsed.head.length - leading_empty_line(bytes);
    std::string head(unread.substr(0, head_length));
    unread.remove_prefix(queued > 0 ? static_cast<std::size_t>(queued) : 0);

    protocol::ConnectionInfo info = connection_info(arrival, tls.socket().native_handle(), *site, host);
    info.websocket = parsed.head.websocket_upgrade;
    info.head_length = head_length;
    info.tls = protocol::TlsInfo{.passthrough = false, .server_name = hello.server_name, .alpn = tls.alpn(),
                                 .version = tls.version(), .cipher = tls.cipher()};
    hand_over(arrival, std::move(worker_end), std::move(info), std::move(head));
    Front::Relay relaying(arrival.front);
    in_front.reset();
    admission.slot.stop_waiting();
    if (!unread.empty()) {
        auto [error, written] = co_await asio::async_write(ours, asio::buffer(unread.data(), unread.size()), token);
        if (error) co_return;
    }
    std::string().swap(bytes);  // this frame lives as long as the relay: keep it small
    co_await relay(tls, ours);
}

asio::awaitable<void> serve_challenge(Arrival arrival, TlsStream tls, ClientHello hello) {
    Front::Presence in_front(arrival.front);
    HeadDeadlines::Entry deadline(arrival.thread.deadlines, tls.socket(), arrival.accepted_at + arrival.routing->head_timeout);
    if (!co_await handshake(arrival, tls, hello)) co_return;
    spdlog::info("{}: answered the ACME TLS-ALPN-01 challenge for '{}'", describe(arrival.remote), hello.server_name);
    tls.close_notify();
    co_await linger_before_close(tls.socket());
}

asio::awaitable<void> wait_for_certificate(Arrival arrival, tcp::socket socket, ClientHello hello, std::size_t site) {
    std::optional<Front::Presence> in_front(std::in_place, arrival.front);
    struct Outcome {
        std::optional<bool> served;
        asio::steady_timer wake;
    };
    auto outcome = std::make_shared<Outcome>(Outcome{std::nullopt, asio::steady_timer(socket.get_executor(), arrival.routing->on_demand_wait)});
    const std::string& site_name = arrival.routing->sites[site].name;
    arrival.front.auto_tls().request_on_demand(hello.server_name, site_name, [outcome, executor = socket.get_executor()](bool served) {
        asio::post(executor, [outcome, served] {
            outcome->served = served;
            outcome->wake.cancel();
        });
    });
    co_await outcome->wake.async_wait(token);
    const std::shared_ptr<SSL_CTX> certificate = outcome->served.value_or(false) ? arrival.front.auto_tls().certificate(hello.server_name) : nullptr;
    if (!certificate) {
        spdlog::info("{}: TLS closed, no on-demand certificate for '{}' (site {}): {}", describe(arrival.remote), hello.server_name, site_name,
                     outcome->served ? "refused or failed (see the ACME lines)" : "not ready within [acme] on_demand_wait");
        arrival.thread.stats.tls_handshake_failed();
        co_return;
    }
    // The handshake and head get their own head_timeout from now, as if the client had just come.
    arrival.accepted_at = std::chrono::steady_clock::now();
    boost::system::error_code ignored;
    protocol::FileDescriptor fd(socket.release(ignored));
    in_front.reset();
    terminate_tls(std::move(arrival), std::move(fd), std::move(hello), site, certificate.get());
}

// The connection's fd as an Asio socket on its thread; nullopt (the fd closed) if Asio refuses it.
std::optional<tcp::socket> adopt_socket(const Arrival& arrival, protocol::FileDescriptor fd) {
    tcp::socket socket(arrival.thread.io);
    boost::system::error_code ec;
    socket.assign(arrival.transport, fd.get(), ec);
    if (ec) return std::nullopt;
    fd.release();
    return socket;
}

}  // namespace

void terminate_tls_on_demand(Arrival arrival, protocol::FileDescriptor fd, ClientHello hello, std::size_t site) {
    std::optional<tcp::socket> socket = adopt_socket(arrival, std::move(fd));
    if (!socket) return;
    asio::io_context& io = arrival.thread.io;
    asio::co_spawn(io, wait_for_certificate(std::move(arrival), std::move(*socket), std::move(hello), site), log_if_failed);
}

void answer_tls_alpn01(Arrival arrival, protocol::FileDescriptor fd, ClientHello hello, std::shared_ptr<SSL_CTX> challenge) {
    std::optional<tcp::socket> socket = adopt_socket(arrival, std::move(fd));
    if (!socket) return;
    asio::io_context& io = arrival.thread.io;
    // The SSL object holds its own reference to the context: a withdrawn challenge stays valid here.
    asio::co_spawn(io, serve_challenge(std::move(arrival), TlsStream(std::move(*socket), challenge.get()), std::move(hello)), log_if_failed);
}

void terminate_tls(Arrival arrival, protocol::FileDescriptor fd, ClientHello hello, std::optional<std::size_t> certificate_site,
                   SSL_CTX* context) {
    std::optional<tcp::socket> socket = adopt_socket(arrival, std::move(fd));
    if (!socket) return;
    asio::io_context& io = arrival.thread.io;
    asio::co_spawn(io, serve_tls(std::move(arrival), TlsStream(std::move(*socket), context), std::move(hello), certificate_site),
                   log_if_failed);
}

}  // namespace vhostd::server
