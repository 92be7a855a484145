// Scenario: after the handoff the worker reads the connection from its first byte — bodies
// that arrive late, pipelined and kept-alive requests, and WebSocket sessions all work.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"
#include "tests/integration/support/websocket_client.hpp"


#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <thread>

using namespace vhostd::test;

namespace {

class Handoff : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir = std::make_unique<TempDir>();
        port = free_port();
        vhostd = std::make_unique<VhostdProcess>(*dir, listen_on(port) + hello_site("blog", R"(["blog.example"])", 2));
        ASSERT_TRUE(vhostd->wait_until_serving(port, "blog.example", 2)) << vhostd->log();
    }
    static void TearDownTestSuite() {
        vhostd.reset();
        dir.reset();
    }

    static std::size_t count(const std::string& text, const std::string& needle) {
        std::size_t n = 0;
        for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
        return n;
    }

    static inline std::unique_ptr<TempDir> dir;
    static inline std::unique_ptr<VhostdProcess> vhostd;
    static inline std::uint16_t port = 0;
};

TEST_F(Handoff, BodySentAfterTheHeadReachesTheWorker) {
    Connection connection(port);
    connection.send("POST /form HTTP/1.1\r\nHost: blog.example\r\nContent-Length: 11\r\nConnection: close\r\n\r\n");
    // A slow client: the body comes after the front has handed the connection on.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    connection.send("hello world");
    const Exchange answer = connection.read_all();
    EXPECT_EQ(answer.status(), 200) << answer.response;
    EXPECT_NE(answer.body().find("received 11 bytes"), std::string::npos) << answer.response;
}

TEST_F(Handoff, BodyInTheSamePacketAsTheHead) {
    const Exchange answer = round_trip(port, "POST / HTTP/1.1\r\nHost: blog.example\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde");
    EXPECT_EQ(answer.status(), 200);
    EXPECT_NE(answer.body().find("received 5 bytes"), std::string::npos) << answer.response;
}

TEST_F(Handoff, PipelinedRequestsAreAllAnsweredByOneWorker) {
    const std::string one = "GET /1 HTTP/1.1\r\nHost: blog.example\r\n\r\n";
    const Exchange answer = round_trip(port, one + one + "GET /3 HTTP/1.1\r\nHost: blog.example\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(count(answer.response, "HTTP/1.1 200 OK"), 3u) << answer.response;
    const auto pid = pid_in(answer.response);
    ASSERT_TRUE(pid);
    EXPECT_EQ(count(answer.response, "(pid " + std::to_string(*pid) + ")"), 3u);
}

TEST_F(Handoff, KeepAliveStaysWithTheSameWorker) {
    Connection connection(port);
    std::optional<int> first_pid;
    for (int i = 0; i < 5; ++i) {
        connection.send("GET / HTTP/1.1\r\nHost: blog.example\r\n\r\n");
        const Exchange answer = connection.read_until([](const std::string& r) { return r.find(")\n") != std::string::npos; });
        ASSERT_EQ(answer.status(), 200) << answer.response;
        const auto pid = pid_in(answer.response);
        ASSERT_TRUE(pid);
        if (!first_pid) first_pid = pid;
        EXPECT_EQ(*pid, *first_pid);
    }
}

TEST_F(Handoff, WebSocketSessionEchoes) {
    WebSocketClient ws(port, "blog.example", "/chat");
    for (const std::string& message : std::vector<std::string>{"ping", "second message", std::string(100000, 'x')}) {
        EXPECT_EQ(ws.echo(message), message);
    }
}

TEST_F(Handoff, LeadingEmptyLineIsNotPassedToTheWorker) {
    const Exchange answer = round_trip(port, "\r\nGET / HTTP/1.1\r\nHost: blog.example\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(answer.status(), 200) << answer.response;
}

TEST_F(Handoff, KeptAliveConnectionCannotSwitchToAnotherHost) {
    Connection connection(port);
    connection.send("GET / HTTP/1.1\r\nHost: blog.example\r\n\r\n");
    Exchange first = connection.read_until([](const std::string& r) { return r.find(")\n") != std::string::npos; });
    ASSERT_EQ(first.status(), 200);
    connection.send("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n");
    const Exchange second = connection.read_all();
    EXPECT_EQ(second.status(), 421) << second.response;
    EXPECT_TRUE(second.closed);
}

TEST_F(Handoff, ConnectionsSpreadOverTheWorkers) {
    // The least busy worker gets each connection. Connections left open by the suite's
    // earlier tests weigh on one worker until its next heartbeat, so the spread is judged
    // over up to 200 requests, not a fixed few.
    std::set<int> pids;
    for (int i = 0; i < 200 && pids.size() < 2; ++i) {
        if (auto pid = pid_in(get(port, "blog.example").body())) pids.insert(*pid);
    }
    EXPECT_EQ(pids.size(), 2u);
}

// Node.js answers a handle whose fd did not arrive with NODE_HANDLE_NACK. vhostd still holds
// the connection, unread, so it hands it again; after three refusals the client gets 503.
TEST(HandleRefusal, ARefusedConnectionIsHandedAgainAndThenAnswered503) {
    TempDir dir;
    const std::uint16_t port = free_port();
    auto site = [](const std::string& name, int refusals) {
        return "[sites." + name + "]\nhosts = [\"" + name + ".example\"]\ncommand = [\"python3\", \"" + refusing_worker_script +
               "\", \"" + std::to_string(refusals) + "\"]\n";
    };
    VhostdProcess vhostd(dir, listen_on(port) + site("twice", 2) + site("always", 1000));
    ASSERT_TRUE(wait_until([&] {
        const auto answer = try_get(port, "twice.example");
        return answer && answer->status() == 200;
    }, 10s)) << vhostd.log();
    EXPECT_NE(get(port, "twice.example").body().find("after 2 refusals"), std::string::npos) << "refused, refused, served";
    EXPECT_NE(vhostd.log().find("did not receive connection"), std::string::npos);

    const Exchange refused = get(port, "always.example");
    EXPECT_EQ(refused.status(), 503) << refused.response << vhostd.log();
    EXPECT_TRUE(vhostd.wait_for_log("workers did not receive its descriptor")) << vhostd.log();
}

// A worker that refuses every handle must not take its site down: a refused connection goes
// to another worker first.
TEST(HandleRefusal, ARefusingWorkerIsPassedOverForTheOthers) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + "[sites.half]\nhosts = [\"half.example\"]\nworkers = 2\ncommand = [\"python3\", \"" +
                                  refusing_worker_script + "\", \"1000000\", \"slot0\"]\n");
    ASSERT_TRUE(wait_until([&] {
        const auto answer = try_get(port, "half.example");
        return answer && answer->status() == 200;
    }, 10s)) << vhostd.log();
    for (int i = 0; i < 10; ++i) {
        const Exchange answer = get(port, "half.example");
        EXPECT_EQ(answer.status(), 200) << answer.response << vhostd.log();
        EXPECT_NE(answer.body().find("after 0 refusals"), std::string::npos) << answer.body();
    }
}

}  // namespace
