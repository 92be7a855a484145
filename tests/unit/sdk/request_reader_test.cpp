// The C++ SDK's request reader over a real socket pair: what a worker does with every
// request of a connection (docs/http-grammar.md). The client side writes raw bytes; the
// worker side reads with read_request_head / read_request_body, as hello-worker does.
#include "sdk/cpp/request_reader.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace vhostd::sdk {
namespace {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using Socket = asio::local::stream_protocol::socket;

// What the worker side saw of one request.
struct Seen {
    bool ok = false;
    int refused = 0;  // the refusal's status, 0 when none
    std::string reason;
    std::string host;
    std::string body;
};

// Writes `raw` from the client side, closes it after writing, and reads up to `requests`
// requests on the worker side with one ConnectionHost, stopping at the first refusal.
struct Exchange {
    std::vector<Seen> seen;
    std::string answer;  // everything the worker side wrote back
};

Exchange exchange(const std::string& raw, ConnectionHost host, int requests = 1, RequestLimits limits = {}) {
    asio::io_context io;
    Socket client(io), worker(io);
    asio::local::connect_pair(client, worker);
    Exchange result;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        boost::beast::flat_buffer buffer;
        for (int i = 0; i < requests; ++i) {
            beast_http::request_parser<beast_http::string_body> parser;
            HeadRead read = co_await read_request_head(worker, buffer, parser, host, limits);
            Seen seen;
            std::optional<Refusal> refusal = read.refusal;
            if (read.ok) refusal = co_await read_request_body(worker, buffer, parser, read.head, limits);
            if (refusal) {
                seen.refused = refusal->status;
                seen.reason = refusal->reason;
                result.seen.push_back(seen);
                const std::string bytes = refusal_response(*refusal);
                co_await asio::async_write(worker, asio::buffer(bytes), asio::use_awaitable);
                break;
            }
            if (!read.ok || !parser.is_done()) break;
            seen.ok = true;
            seen.host = read.head.host;
            seen.body = parser.get().body();
            result.seen.push_back(seen);
        }
        worker.shutdown(Socket::shutdown_send);
    }, asio::detached);
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        co_await asio::async_write(client, asio::buffer(raw), asio::use_awaitable);
        client.shutdown(Socket::shutdown_send);
        char chunk[4096];
        for (;;) {
            auto [error, n] = co_await client.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
            result.answer.append(chunk, n);
            if (error) break;
        }
    }, asio::detached);
    io.run_for(std::chrono::seconds(10));
    return result;
}

const std::string get_a = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";

TEST(RequestReader, ReadsPipelinedRequestsForTheRoutedHost) {
    const Exchange e = exchange(get_a + "\r\n" + "POST /x HTTP/1.1\r\nHost: A.Example.:80\r\nContent-Length: 3\r\n\r\nabc" + get_a,
                                ConnectionHost::routed("a.example"), 3);
    ASSERT_EQ(e.seen.size(), 3u);
    for (const Seen& seen : e.seen) EXPECT_TRUE(seen.ok) << seen.reason;
    EXPECT_EQ(e.seen[1].body, "abc");
}

TEST(RequestReader, ReadsAChunkedBody) {
    const Exchange e = exchange("POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                                ConnectionHost::routed("a.example"));
    ASSERT_EQ(e.seen.size(), 1u);
    EXPECT_TRUE(e.seen[0].ok);
    EXPECT_EQ(e.seen[0].body, "abc");
}

struct RefusalCase {
    std::string name;
    std::string raw;  // sent after one good request for a.example
    int status;
};

void PrintTo(const RefusalCase& c, std::ostream* os) { *os << c.name; }

class RefusesALaterRequest : public testing::TestWithParam<RefusalCase> {};

TEST_P(RefusesALaterRequest, WithAnAnswerNotAClose) {
    const RefusalCase& c = GetParam();
    const Exchange e = exchange(get_a + c.raw, ConnectionHost::routed("a.example"), 2);
    ASSERT_EQ(e.seen.size(), 2u);
    EXPECT_TRUE(e.seen[0].ok);
    EXPECT_EQ(e.seen[1].refused, c.status) << e.seen[1].reason;
    EXPECT_NE(e.answer.find("HTTP/1.1 " + std::to_string(c.status) + " "), std::string::npos) << e.answer;
    EXPECT_NE(e.answer.find("Connection: close\r\n"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Cases, RefusesALaterRequest, testing::Values(
    RefusalCase{"other_host", "GET / HTTP/1.1\r\nHost: b.example\r\n\r\n", 421},
    RefusalCase{"absolute_form_for_other_host", "GET http://b.example/ HTTP/1.0\r\n\r\n", 421},
    RefusalCase{"two_hosts", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", 400},
    RefusalCase{"invalid_port", "GET / HTTP/1.1\r\nHost: a.example:other\r\n\r\n", 400},
    RefusalCase{"absolute_form_disagreeing", "GET http://b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
    RefusalCase{"no_host_on_http10", "GET / HTTP/1.0\r\n\r\n", 421},
    RefusalCase{"lone_lf", "GET / HTTP/1.1\nHost: a.example\n\n", 400},
    RefusalCase{"conflicting_content_length", "POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
    RefusalCase{"content_length_plus", "POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: +3\r\n\r\nabc", 400},
    RefusalCase{"content_length_10_pow_23", "POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 100000000000000000000000\r\n\r\n", 400},
    RefusalCase{"te_with_content_length", "POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
    RefusalCase{"te_identity", "POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: identity\r\n\r\nabc", 400},
    RefusalCase{"chunk_size_0x", "POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nabcde\r\n0\r\n\r\n", 400},
    RefusalCase{"body_too_large", "POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 2000000\r\n\r\n", 413},
    RefusalCase{"chunk_too_large", "POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\nab", 413},
    RefusalCase{"chunk_near_2_pow_64", "POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFE\r\n0\r\n\r\n", 413},
    RefusalCase{"head_too_large", "GET / HTTP/1.1\r\nHost: a.example\r\nCookie: " + std::string(17 * 1024, 'c') + "\r\n\r\n", 431},
    RefusalCase{"expectation", "GET / HTTP/1.1\r\nHost: a.example\r\nExpect: later\r\n\r\n", 417}),
    [](const testing::TestParamInfo<RefusalCase>& info) { return info.param.name; });

TEST(RequestReader, TakesHeadsUpToTheFrontsLimit) {
    // Beast's own default header limit is 8 KiB; the front allows 16 KiB.
    const std::string cookie = "Cookie: " + std::string(12 * 1024, 'c') + "\r\n";
    const Exchange e = exchange("GET / HTTP/1.1\r\nHost: a.example\r\n" + cookie + "\r\n", ConnectionHost::routed("a.example"));
    ASSERT_EQ(e.seen.size(), 1u);
    EXPECT_TRUE(e.seen[0].ok) << e.seen[0].reason;
}

TEST(RequestReader, ConnectionRoutedWithoutHostStaysWithoutOne) {
    const Exchange e = exchange("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: other.example\r\n\r\n",
                                ConnectionHost::routed(""), 2);
    ASSERT_EQ(e.seen.size(), 2u);
    EXPECT_TRUE(e.seen[0].ok);
    EXPECT_EQ(e.seen[1].refused, 421);
}

TEST(RequestReader, FirstRequestFixesAnUnroutedConnectionsHost) {
    const Exchange e = exchange(get_a + "GET / HTTP/1.1\r\nHost: b.example\r\n\r\n", ConnectionHost::from_first_request(), 2);
    ASSERT_EQ(e.seen.size(), 2u);
    EXPECT_TRUE(e.seen[0].ok);
    EXPECT_EQ(e.seen[0].host, "a.example");
    EXPECT_EQ(e.seen[1].refused, 421);
}

// A passthrough connection is routed by SNI before any request is read: its first request
// is held to the SNI name too, and only an unnamed one is fixed by that request.
TEST(RequestReader, APassthroughConnectionIsForItsSniName) {
    protocol::ConnectionInfo info;
    info.host = "a.example";
    info.tls.emplace();
    info.tls->passthrough = true;
    const Exchange named = exchange("GET / HTTP/1.1\r\nHost: b.example\r\n\r\n", ConnectionHost::of_handoff(info));
    ASSERT_EQ(named.seen.size(), 1u);
    EXPECT_EQ(named.seen[0].refused, 421);
    const Exchange same = exchange("GET / HTTP/1.1\r\nHost: A.Example:8443\r\n\r\n", ConnectionHost::of_handoff(info));
    ASSERT_EQ(same.seen.size(), 1u);
    EXPECT_TRUE(same.seen[0].ok) << same.seen[0].reason;
    const Exchange without = exchange("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get_a, ConnectionHost::of_handoff(info), 2);
    ASSERT_EQ(without.seen.size(), 2u);
    EXPECT_TRUE(without.seen[0].ok) << "a request without Host is for the SNI name";
    EXPECT_TRUE(without.seen[1].ok) << without.seen[1].reason;

    info.host.clear();
    const Exchange unnamed = exchange("GET / HTTP/1.1\r\nHost: b.example\r\n\r\n" + get_a, ConnectionHost::of_handoff(info), 2);
    ASSERT_EQ(unnamed.seen.size(), 2u);
    EXPECT_TRUE(unnamed.seen[0].ok);
    EXPECT_EQ(unnamed.seen[1].refused, 421);
}

TEST(RequestReader, AbsoluteFormWithoutHostIsForTheTargetsHost) {
    const Exchange e = exchange("GET http://a.example/x HTTP/1.0\r\n\r\n", ConnectionHost::routed("a.example"));
    ASSERT_EQ(e.seen.size(), 1u);
    EXPECT_TRUE(e.seen[0].ok) << e.seen[0].reason;
}

TEST(RequestReader, AnswersExpectContinueBeforeReadingTheBody) {
    asio::io_context io;
    Socket client(io), worker(io);
    asio::local::connect_pair(client, worker);
    std::string body;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        boost::beast::flat_buffer buffer;
        beast_http::request_parser<beast_http::string_body> parser;
        ConnectionHost host = ConnectionHost::routed("a.example");
        HeadRead read = co_await read_request_head(worker, buffer, parser, host, RequestLimits{});
        if (!read.ok) co_return;
        if (co_await read_request_body(worker, buffer, parser, read.head, RequestLimits{})) co_return;
        body = parser.get().body();
    }, asio::detached);
    std::string interim;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        const std::string head = "PUT / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
        co_await asio::async_write(client, asio::buffer(head), asio::use_awaitable);
        // The client sends its body only once it has the 100.
        interim.resize(25);
        co_await asio::async_read(client, asio::buffer(interim), asio::use_awaitable);
        co_await asio::async_write(client, asio::buffer(std::string_view("ok")), asio::use_awaitable);
    }, asio::detached);
    io.run_for(std::chrono::seconds(10));
    EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    EXPECT_EQ(body, "ok");
}

TEST(ConnectionHostRule, SameHostAfterNormalisationOnly) {
    ConnectionHost routed = ConnectionHost::routed("a.example");
    EXPECT_TRUE(routed.admits("a.example"));
    EXPECT_FALSE(routed.admits("b.example"));
    EXPECT_FALSE(routed.admits(""));
    ConnectionHost without = ConnectionHost::routed("");
    EXPECT_TRUE(without.admits(""));
    EXPECT_FALSE(without.admits("a.example"));
}

TEST(RefusalResponse, IsACompleteAnswerThatCloses) {
    EXPECT_EQ(refusal_response({431, "head too large"}),
              "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nConnection: close\r\n"
              "Content-Length: 36\r\n\r\n431 Request Header Fields Too Large\n");
}

}  // namespace
}  // namespace vhostd::sdk
