// Scenario: slow and greedy clients. Thousands of connections that send half a head and
// stall must not keep other clients from being served, and caps on what waiting clients
// may hold close the excess, counted, while complete requests still go through.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <fstream>
#include <memory>
#include <vector>

using namespace vhostd::test;
namespace json = boost::json;

namespace {

const std::string half_head = "GET / HTTP/1.1\r\nHost: blog.example\r\nX-Slow: ";

std::string admin_block(std::uint16_t port) { return "[admin]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n\n"; }

json::object front_status(std::uint16_t admin) {
    const Exchange answer = round_trip(admin, "GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    return json::parse(answer.body()).at("front").as_object();
}

std::uint64_t front_number(std::uint16_t admin, const char* name) { return front_status(admin).at(name).to_number<std::uint64_t>(); }

std::size_t rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    std::size_t value = 0;
    while (status >> key) {
        if (key == "VmRSS:") {
            status >> value;
            return value;
        }
    }
    return 0;
}

// This process and vhostd (which inherits the limit) each hold one fd per stalled client.
void allow_open_files(rlim_t wanted) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < wanted) {
        limit.rlim_cur = std::min(wanted, limit.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

std::vector<std::unique_ptr<Connection>> stall(std::uint16_t port, std::size_t count) {
    std::vector<std::unique_ptr<Connection>> stalled;
    for (std::size_t i = 0; i < count; ++i) {
        stalled.push_back(std::make_unique<Connection>(port));
        stalled.back()->send(half_head);
    }
    return stalled;
}

TEST(SlowClients, FiveThousandStalledHalfHeadsDoNotStopOtherClients) {
    constexpr std::size_t stalled_count = 5000;
    allow_open_files(stalled_count * 2 + 1000);
    TempDir dir;
    const std::uint16_t port = free_port();
    const std::uint16_t admin = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + "[server]\nhead_timeout = \"60s\"\nmax_waiting_heads_per_ip = 10000\nmax_connections_per_ip = 10000\n\n" +
                                  admin_block(admin) + hello_site("blog", R"(["blog.example"])", 2));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example", 2)) << vhostd.log();
    const std::size_t rss_before = rss_kib(vhostd.pid());

    const auto stalled = stall(port, stalled_count);
    ASSERT_TRUE(wait_until([&] { return front_number(admin, "in_front") >= stalled_count; }, 30s))
        << "in front: " << front_number(admin, "in_front");
    const std::size_t rss_after = rss_kib(vhostd.pid());

    // Everyone else is still served, on new connections, while all of them wait.
    for (int i = 0; i < 20; ++i) {
        const Exchange answer = get(port, "blog.example");
        ASSERT_EQ(answer.status(), 200) << answer.response;
    }
    const double per_connection = static_cast<double>(rss_after - rss_before) * 1024 / stalled_count;
    std::cout << "vhostd RSS " << rss_before << " KiB -> " << rss_after << " KiB with " << stalled_count
              << " stalled heads: " << per_connection << " bytes each\n";
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)  // their shadow memory counts in RSS
    EXPECT_LT(per_connection, 8 * 1024) << "bounded memory per waiting connection";
#endif
    EXPECT_EQ(front_number(admin, "refused_over_limit"), 0u);
}

// vhostd with one site, a long head_timeout and `caps` in [server]; its admin port known.
struct CappedVhostd {
    explicit CappedVhostd(const std::string& caps)
        : vhostd(dir, listen_on(port) + "[server]\nhead_timeout = \"60s\"\n" + caps + "\n\n" + admin_block(admin) +
                          hello_site("blog", R"(["blog.example"])", 1)) {}
    TempDir dir;
    std::uint16_t port = free_port();
    std::uint16_t admin = free_port();
    VhostdProcess vhostd;
};

TEST(SlowClients, CapsCloseTheExcessCountItAndLetCompleteRequestsThrough) {
    CappedVhostd capped("max_waiting_heads_per_ip = 50");
    ASSERT_TRUE(capped.vhostd.wait_until_serving(capped.port, "blog.example")) << capped.vhostd.log();

    const auto stalled = stall(capped.port, 80);
    ASSERT_TRUE(wait_until([&] { return front_number(capped.admin, "refused_over_limit") == 30; })) << json::serialize(front_status(capped.admin));
    EXPECT_EQ(front_number(capped.admin, "in_front"), 50u);
    // The refused ones were answered 429 (a per-client cap) and closed.
    std::size_t refused = 0;
    for (const auto& connection : stalled) {
        const Exchange ended = connection->read_all(50ms);
        if (ended.closed) {
            EXPECT_EQ(ended.status(), 429) << ended.response;
            ++refused;
        }
    }
    EXPECT_EQ(refused, 30u);
    EXPECT_NE(capped.vhostd.log().find("429, max_waiting_heads_per_ip reached"), std::string::npos) << capped.vhostd.log();
    // A complete head never waits, so it is never refused.
    EXPECT_EQ(get(capped.port, "blog.example").status(), 200);
}

TEST(SlowClients, TotalCapOnWaitingHeads) {
    CappedVhostd capped("max_waiting_heads = 20");
    ASSERT_TRUE(capped.vhostd.wait_until_serving(capped.port, "blog.example")) << capped.vhostd.log();
    const auto stalled = stall(capped.port, 30);
    ASSERT_TRUE(wait_until([&] { return front_number(capped.admin, "refused_over_limit") == 10; })) << json::serialize(front_status(capped.admin));
    std::size_t unavailable = 0;
    for (const auto& connection : stalled) unavailable += connection->read_all(50ms).status() == 503 ? 1 : 0;
    EXPECT_EQ(unavailable, 10u);
    EXPECT_EQ(get(capped.port, "blog.example").status(), 200);
}

}  // namespace
