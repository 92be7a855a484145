// Reading the requests of a connection by vhostd's one grammar (docs/http-grammar.md): the
// head goes through the front's own parser (http/request_head.hpp) before Beast sees it, so
// a C++ worker accepts exactly what the front accepts, on every request of the connection,
// and every refusal is an HTTP answer and a log line.
//
//   vhostd::sdk::ConnectionHost host = vhostd::sdk::ConnectionHost::of_handoff(info);
//   for (;;) {
//       http::request_parser<http::string_body> parser;
//       auto read = co_await vhostd::sdk::read_request_head(socket, buffer, parser, host, limits);
//       if (read.refusal) { co_await vhostd::sdk::refuse(socket, *read.refusal); break; }
//       if (!read.ok) break;                               // the client closed
//       ... co_await vhostd::sdk::read_request_body(socket, buffer, parser, read.head, limits) ...
//   }
#pragma once

#include "http/chunked_body.hpp"
#include "http/request_head.hpp"
#include "protocol/message.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace vhostd::sdk {

// What a worker reads requests with. The head limits are at least the front's
// (VHOSTD_MAX_HEAD_SIZE and VHOSTD_MAX_HEADER_FIELDS, docs/protocol.md §2), so that a request
// the front let through is never too large for its worker.
struct RequestLimits {
    http::HeadLimits head;
    std::uint64_t max_body = 1024 * 1024;  // a larger body gets 413

    static RequestLimits from_environment();
};

// The host a connection is for. A routed connection's is the `host` of the handoff, which
// may be empty (HTTP/1.0 without Host, to the default site); a passthrough one's is the
// name in its SNI, or, without one, fixed by its first request, as is a connection the
// worker accepted itself. Every later request must be for the same host, or for none when
// the first named none; on a connection its SNI named, a request may name none.
class ConnectionHost {
public:
    static ConnectionHost routed(std::string host) { return ConnectionHost(std::move(host), false); }
    static ConnectionHost from_first_request() { return ConnectionHost(std::nullopt, false); }
    static ConnectionHost named_by_sni(std::string name) { return ConnectionHost(std::move(name), true); }
    // The rule above for a connection vhostd handed over.
    static ConnectionHost of_handoff(const protocol::ConnectionInfo& info) {
        if (!info.tls || !info.tls->passthrough) return routed(info.host);
        return info.host.empty() ? from_first_request() : named_by_sni(info.host);
    }

    // True when a request for `request_host` (normalised, or empty) may be served here.
    bool admits(const std::string& request_host);

private:
    ConnectionHost(std::optional<std::string> host, bool by_sni) : host_(std::move(host)), by_sni_(by_sni) {}
    std::optional<std::string> host_;
    bool by_sni_;
};

// Why a request is not served: the status of the answer and the reason for the log.
struct Refusal {
    int status = 400;
    std::string reason;
};

struct HeadRead {
    bool ok = false;                // a request head, checked, and read by the parser
    std::optional<Refusal> refusal;  // set when the request must be refused
    http::RequestHead head;          // when ok
};

// The bytes of a refusal: a status line, Connection: close and a one-line text body.
std::string refusal_response(const Refusal& refusal);
// Writes one log line for a refusal to stderr, which vhostd files in the site's log.
void log_refusal(const Refusal& refusal);

namespace detail {

constexpr auto token = boost::asio::as_tuple(boost::asio::use_awaitable);

inline std::string_view view(const boost::beast::flat_buffer& buffer) {
    const auto data = buffer.data();
    return {static_cast<const char*>(data.data()), data.size()};
}

}  // namespace detail

// Reads the next request head into `buffer` and checks it by the grammar and `host`, then
// lets `parser` read the same head (Beast's limits set so that it never refuses a head the
// grammar accepts). The body, if any, is still unread.
template <typename Stream, typename Body>
boost::asio::awaitable<HeadRead> read_request_head(Stream& stream, boost::beast::flat_buffer& buffer,
                                                   boost::beast::http::request_parser<Body>& parser,
                                                   ConnectionHost& host, const RequestLimits& limits) {
    HeadRead read;
    http::HeadParseResult parsed = http::parse_request_head(detail::view(buffer), limits.head);
    while (parsed.status == http::HeadStatus::need_more) {
        auto [error, n] = co_await stream.async_read_some(buffer.prepare(4096), detail::token);
        // Cancelled (a worker's timeout) with part of a head here: 408, as the front answers.
        if (error == boost::asio::error::operation_aborted && buffer.size() > 0) {
            read.refusal = Refusal{408, "head not complete in time"};
            co_return read;
        }
        if (error) co_return read;  // closed before a whole head: nothing to answer (as the front)
        buffer.commit(n);
        parsed = http::parse_request_head(detail::view(buffer), limits.head);
    }
    if (parsed.status == http::HeadStatus::error) {
        read.refusal = Refusal{parsed.http_status, std::move(parsed.reason)};
        co_return read;
    }
    if (!host.admits(parsed.head.host)) {
        read.refusal = Refusal{421, "a request for another host than the connection's"};
        co_return read;
    }
    buffer.consume(http::leading_empty_line(detail::view(buffer)));
    parser.header_limit(static_cast<std::uint32_t>(limits.head.max_head_size));
    parser.body_limit(limits.max_body);
    auto [error, n] = co_await boost::beast::http::async_read_header(stream, buffer, parser, detail::token);
    if (error == boost::beast::http::error::body_limit) {  // Beast compares Content-Length at once
        read.refusal = Refusal{413, "body larger than this worker takes"};
        co_return read;
    }
    if (error) {
        // The grammar accepted what Beast refuses: a difference between the two readings.
        read.refusal = Refusal{400, "head refused by the HTTP parser: " + error.message()};
        co_return read;
    }
    read.ok = true;
    read.head = std::move(parsed.head);
    co_return read;
}

// Reads the body `head` announces into `parser`, first answering "100 Continue" when the
// client waits for it. A chunked body is read whole and checked by the grammar
// (http/chunked_body.hpp) before Beast parses it. Returns a refusal for a body over the
// limit (413) or a malformed chunked body (400); an empty optional with `parser.is_done()`
// false means the client left.
template <typename Stream, typename Body>
boost::asio::awaitable<std::optional<Refusal>> read_request_body(Stream& stream, boost::beast::flat_buffer& buffer,
                                                                 boost::beast::http::request_parser<Body>& parser,
                                                                 const http::RequestHead& head,
                                                                 const RequestLimits& limits) {
    namespace beast_http = boost::beast::http;
    if (parser.is_done()) co_return std::nullopt;
    if (head.expect_continue && buffer.size() == 0) {
        constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
        auto [write_error, written] = co_await boost::asio::async_write(stream, boost::asio::buffer(go_on), detail::token);
        if (write_error) co_return std::nullopt;
    }
    if (head.body == http::BodyFraming::chunked) {
        for (http::ChunkedScan scan;;) {
            scan = http::scan_chunked_body(detail::view(buffer), scan);
            if (scan.status == http::ChunkedStatus::complete) break;
            if (scan.status == http::ChunkedStatus::error) co_return Refusal{400, std::string("invalid body: ") + scan.reason};
            // The data announced, and the bytes that carry it: extensions and trailers count too.
            if (scan.data_size > limits.max_body || buffer.size() > 2 * limits.max_body + 64 * 1024) {
                co_return Refusal{413, "body larger than this worker takes"};
            }
            auto [read_error, n] = co_await stream.async_read_some(buffer.prepare(16 * 1024), detail::token);
            if (read_error) co_return std::nullopt;
            buffer.commit(n);
        }
    }
    auto [error, n] = co_await beast_http::async_read(stream, buffer, parser, detail::token);
    if (!error) co_return std::nullopt;
    if (error == beast_http::error::body_limit) co_return Refusal{413, "body larger than this worker takes"};
    if (error == beast_http::error::end_of_stream || error == beast_http::error::partial_message) co_return std::nullopt;
    if (error.category() == beast_http::make_error_code(beast_http::error::bad_chunk).category()) {
        co_return Refusal{400, "invalid body: " + error.message()};
    }
    co_return std::nullopt;  // a socket error: nobody to answer
}

// Logs the refusal and sends its answer, then ends the connection: close_notify on a TLS
// stream (sent at once), our FIN on a plain socket. Then it reads what the client still
// sends (a body, pipelined requests; for at most 2 s, until the client closes): closing a
// socket with unread bytes resets the connection, and the client would lose the answer.
// The caller only closes the socket after it.
template <typename Stream>
boost::asio::awaitable<void> refuse(Stream& stream, const Refusal& refusal) {
    using namespace boost::asio::experimental::awaitable_operators;
    log_refusal(refusal);
    const std::string response = refusal_response(refusal);
    auto [write_error, written] = co_await boost::asio::async_write(stream, boost::asio::buffer(response), detail::token);
    if (write_error) co_return;
    auto& socket = boost::beast::get_lowest_layer(stream);
    boost::asio::steady_timer deadline(socket.get_executor(), std::chrono::seconds(2));
    if constexpr (std::is_same_v<Stream, std::remove_reference_t<decltype(socket)>>) {
        boost::system::error_code ignored;
        socket.shutdown(Stream::shutdown_send, ignored);
        deadline.async_wait([&socket](boost::system::error_code ec) {
            if (!ec) socket.cancel();  // once destroyed below, the timer calls this with an error
        });
        char discard[16 * 1024];
        for (std::size_t total = 0; total < 1024 * 1024;) {
            auto [error, n] = co_await socket.async_read_some(boost::asio::buffer(discard), detail::token);
            if (error) break;
            total += n;
        }
    } else {
        // asio writes close_notify, then reads until the client's; OpenSSL drops the
        // records that arrive before it (it discards all but alerts once it sent its own).
        co_await (stream.async_shutdown(detail::token) || deadline.async_wait(detail::token));
    }
}

}  // namespace vhostd::sdk
