// Scenario: requests for many hosts through one front; the front's own answers for bad heads.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <memory>

using namespace vhostd::test;

namespace {

class Routing : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir = std::make_unique<TempDir>();
        port = free_port();
        vhostd = std::make_unique<VhostdProcess>(
            *dir, listen_on(port) + "[server]\nhead_timeout = \"500ms\"\nmax_head_size = \"2KiB\"\n\n" +
                      hello_site("blog", R"(["blog.example", "*.blog.example"])", 1) +
                      hello_site("any", R"(["*.example"])", 1) +
                      hello_site("fallback", "[]", 1, "default = true"));
        ASSERT_TRUE(vhostd->wait_until_serving(port, "blog.example")) << vhostd->log();
        ASSERT_TRUE(vhostd->wait_until_serving(port, "x.example")) << vhostd->log();
        ASSERT_TRUE(vhostd->wait_until_serving(port, "unknown.test")) << vhostd->log();
    }
    static void TearDownTestSuite() {
        vhostd.reset();
        dir.reset();
    }

    static std::string site_answering(const std::string& host) {
        const Exchange answer = get(port, host);
        EXPECT_EQ(answer.status(), 200) << host << "\n" << answer.response;
        const std::string body = answer.body();
        const auto from = body.find("hello from ");
        return from == std::string::npos ? "" : body.substr(from + 11, body.find(' ', from + 11) - from - 11);
    }

    // Raw bytes in, the front's answer out; it must close cleanly, never reset.
    static int front_status(const std::string& request) {
        const Exchange answer = round_trip(port, request);
        EXPECT_TRUE(answer.closed) << "not closed cleanly: reset=" << answer.reset << " timed_out=" << answer.timed_out;
        EXPECT_NE(answer.response.find("Connection: close"), std::string::npos) << answer.response;
        return answer.status();
    }

    static inline std::unique_ptr<TempDir> dir;
    static inline std::unique_ptr<VhostdProcess> vhostd;
    static inline std::uint16_t port = 0;
};

TEST_F(Routing, ExactHost) { EXPECT_EQ(site_answering("blog.example"), "blog"); }

TEST_F(Routing, LongestWildcardWins) {
    EXPECT_EQ(site_answering("www.blog.example"), "blog");
    EXPECT_EQ(site_answering("a.b.blog.example"), "blog");
    EXPECT_EQ(site_answering("shop.example"), "any");
    EXPECT_EQ(site_answering("a.b.c.example"), "any");
}

TEST_F(Routing, UnknownHostGoesToTheDefaultSite) {
    EXPECT_EQ(site_answering("unknown.test"), "fallback");
    EXPECT_EQ(site_answering("example"), "fallback") << "*.example does not match example itself";
}

TEST_F(Routing, CasePortAndTrailingDotAreIgnored) {
    EXPECT_EQ(site_answering("BLOG.Example"), "blog");
    EXPECT_EQ(site_answering("blog.example:8080"), "blog");
    EXPECT_EQ(site_answering("blog.example."), "blog");
    EXPECT_EQ(site_answering("Blog.EXAMPLE.:80"), "blog");
}

TEST_F(Routing, Http10WithoutHostGoesToTheDefaultSite) {
    const Exchange answer = round_trip(port, "GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(answer.status(), 200);
    EXPECT_NE(answer.body().find("hello from fallback"), std::string::npos) << answer.response;
}

TEST_F(Routing, AbsoluteFormTargetThatMatchesHostIsRouted) {
    const Exchange answer = round_trip(port, "GET http://blog.example/x HTTP/1.1\r\nHost: blog.example\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(answer.status(), 200);
    EXPECT_NE(answer.body().find("hello from blog"), std::string::npos);
}

TEST_F(Routing, AmbiguousHeadsGet400) {
    const char* cases[] = {
        "GET / HTTP/1.1\r\n\r\n",                                                  // no Host on HTTP/1.1
        "GET / HTTP/1.1\r\nHost: blog.example\r\nHost: x.example\r\n\r\n",        // two Host fields
        "GET / HTTP/1.1\r\nHost : blog.example\r\n\r\n",                           // whitespace before colon
        "GET / HTTP/1.1\r\nHost: blog.example\r\nX: a\x01z\r\n\r\n",               // control character
        "GET / HTTP/1.1\r\nHost: blog.example\r\nX: a\r\n  folded\r\n\r\n",        // obs-fold
        "GET http://x.example/ HTTP/1.1\r\nHost: blog.example\r\n\r\n",            // Host != authority
        "GET / HTTP/1.1\r\nHost: blog example\r\n\r\n",                            // invalid Host
        "GET / HTTP/1.1\r\nHost: blog.example:99999\r\n\r\n",                      // invalid port
        "GET  / HTTP/1.1\r\nHost: blog.example\r\n\r\n",                           // two spaces
    };
    for (const char* request : cases) {
        EXPECT_EQ(front_status(request), 400) << request;
    }
    const std::string with_nul("GET / HTTP/1.1\r\nHost: blog.example\r\nX: a\0b\r\n\r\n", 46);
    EXPECT_EQ(front_status(with_nul), 400);
}

TEST_F(Routing, HeadThatNeverEndsGets408AfterHeadTimeout) {
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(front_status("GET / HTTP/1.1\r\nHost: blog.example\r\n"), 408);
    EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(450));
}

TEST_F(Routing, HeadTimeoutCoversTheWholeHeadNotEachByte) {
    Connection connection(port);
    const auto started = std::chrono::steady_clock::now();
    const std::string head = "GET / HTTP/1.1\r\nHost: blog.example\r\nX-Slow: ";
    connection.send(head);
    // Keep trickling bytes; the deadline must not restart with each one.
    Exchange answer;
    for (int i = 0; i < 40 && answer.response.empty(); ++i) {
        try {
            connection.send("a");
        } catch (const std::exception&) {
            break;  // the front answered and closed
        }
        answer = connection.read_until([](const std::string& r) { return !r.empty(); }, 50ms);
    }
    if (answer.response.find("\r\n\r\n") == std::string::npos) {
        const Exchange rest = connection.read_all();
        answer.response += rest.response;
    }
    EXPECT_EQ(answer.status(), 408) << answer.response;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500));
}

TEST_F(Routing, SilentClientIsClosedWithoutAnAnswer) {
    Connection connection(port);
    const Exchange answer = connection.read_all(3000ms);
    EXPECT_TRUE(answer.closed);
    EXPECT_TRUE(answer.response.empty()) << answer.response;
}

TEST_F(Routing, OversizeHeadGets431) {
    const std::string big(3000, 'a');
    EXPECT_EQ(front_status("GET / HTTP/1.1\r\nHost: blog.example\r\nX-Big: " + big + "\r\n\r\n"), 431);
}

TEST_F(Routing, OverlongRequestLineGets414) {
    EXPECT_EQ(front_status("GET /" + std::string(3000, 'a') + " HTTP/1.1\r\nHost: blog.example\r\n\r\n"), 414);
}

TEST(RoutingWithoutDefault, UnknownHostGets404) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    const Exchange answer = get(port, "nobody.example");
    EXPECT_EQ(answer.status(), 404);
    EXPECT_TRUE(answer.closed);
}

}  // namespace
