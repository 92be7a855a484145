// Scenario: vhostd behind an L4 load balancer that sends the PROXY protocol: the client
// address the header carries is what the worker is told and what the access log shows;
// only the configured balancers may send one. Checked with raw headers and with HAProxy
// in TCP mode sending send-proxy-v2 to two vhostd instances.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

using namespace vhostd::test;

namespace {

std::string listen_proxied(std::uint16_t port, const std::string& from) {
    return "[[listen]]\naddress = \"127.0.0.1:" + std::to_string(port) + "\"\nproxy_protocol = true\nproxy_from = " + from + "\n\n";
}

// Connects from `source` (any 127.0.0.0/8 address works on Linux), sends `bytes`, reads
// until the server closes or 5 s pass.
std::string exchange_from(const std::string& source, std::uint16_t port, const std::string& bytes) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string response;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0 &&
        ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) == 0) {
        ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        for (;;) {
            pollfd wait{fd, POLLIN, 0};
            if (::poll(&wait, 1, 5000) <= 0) break;
            char buffer[4096];
            const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
            if (got <= 0) break;
            response.append(buffer, static_cast<std::size_t>(got));
        }
    }
    ::close(fd);
    return response;
}

const std::string request = "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ProxyProtocol, Version1FromATrustedBalancerNamesTheClient) {
    TempDir dir;
    const std::uint16_t port = free_port();
    const std::string access_log = (dir.path() / "access.log").string();
    VhostdProcess vhostd(dir, listen_proxied(port, R"(["127.0.0.0/8"])") + "[server]\naccess_log = \"" + access_log + "\"\n\n" +
                                  test_site("app", R"(["app.test"])", ""));
    ASSERT_TRUE(vhostd.wait_for_log("ready after")) << vhostd.log();

    const std::string answer = exchange_from("127.0.0.1", port, "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n" + request);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer;
    EXPECT_TRUE(contains(answer, "client 203.0.113.7:40000\n")) << answer;
    // A header split over several packets is waited for like a slow head.
    Connection slow(port);
    slow.send("PROXY TCP6 2001:db8::7 ::1 ");
    slow.send("5555 443\r\nGET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(contains(slow.read_all().response, "client 2001:db8::7:5555\n"));
    // UNKNOWN (a balancer's own check): the connection's own address stands.
    EXPECT_TRUE(contains(exchange_from("127.0.0.3", port, "PROXY UNKNOWN\r\n" + request), "client 127.0.0.3:"));

    ASSERT_TRUE(vhostd.stop(SIGTERM));
    std::ifstream log(access_log);
    std::stringstream lines;
    lines << log.rdbuf();
    EXPECT_TRUE(contains(lines.str(), "203.0.113.7:40000 app.test app ")) << lines.str();
}

TEST(ProxyProtocol, UntrustedSourcesAndBadHeadersAreClosed) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_proxied(port, R"(["127.0.0.2", "10.0.0.0/8"])") + test_site("app", R"(["app.test"])", ""));
    ASSERT_TRUE(vhostd.wait_for_log("ready after")) << vhostd.log();
    // 127.0.0.1 may not claim to be anyone.
    EXPECT_EQ(exchange_from("127.0.0.1", port, "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n" + request), "");
    EXPECT_TRUE(vhostd.wait_for_log("127.0.0.1:")) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_for_log("closed, not in proxy_from")) << vhostd.log();
    // The trusted balancer: without a header, or with a broken one, nothing is served.
    EXPECT_EQ(exchange_from("127.0.0.2", port, request), "");
    EXPECT_EQ(exchange_from("127.0.0.2", port, "PROXY TCP4 203.0.113.7 127.0.0.1 40000\r\n" + request), "");
    EXPECT_TRUE(vhostd.wait_for_log("malformed addresses or ports")) << vhostd.log();
    EXPECT_TRUE(contains(exchange_from("127.0.0.2", port, "PROXY TCP4 198.51.100.9 127.0.0.1 1234 80\r\n" + request),
                         "client 198.51.100.9:1234\n"));
}

TEST(ProxyProtocol, HaproxySendsProxyV2ToTwoVhostdInstances) {
    if (!std::filesystem::exists("/usr/sbin/haproxy")) GTEST_SKIP() << "haproxy is not installed (bench/run.sh installs it)";
    TempDir dir;
    const std::uint16_t front_port = free_port();
    std::vector<std::uint16_t> ports;
    std::vector<std::unique_ptr<VhostdProcess>> instances;
    std::vector<std::unique_ptr<TempDir>> dirs;
    for (const std::string name : {"one", "two"}) {
        ports.push_back(free_port());
        dirs.push_back(std::make_unique<TempDir>());
        instances.push_back(std::make_unique<VhostdProcess>(
            *dirs.back(), listen_proxied(ports.back(), R"(["127.0.0.1"])") + test_site(name, R"(["app.test"])", "")));
        ASSERT_TRUE(instances.back()->wait_for_log("ready after")) << instances.back()->log();
    }
    const auto config = dir.write("haproxy.cfg", "global\n    maxconn 100\n"
                                                 "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n"
                                                 "frontend balancer\n    bind 127.0.0.1:" + std::to_string(front_port) + "\n    default_backend vhostd\n"
                                                 "backend vhostd\n    balance roundrobin\n"
                                                 "    server one 127.0.0.1:" + std::to_string(ports[0]) + " send-proxy-v2\n"
                                                 "    server two 127.0.0.1:" + std::to_string(ports[1]) + " send-proxy-v2\n");
    const BackgroundProcess haproxy({"/usr/sbin/haproxy", "-db", "-f", config.string()}, (dir.path() / "haproxy.log").string());
    ASSERT_TRUE(wait_until([&] { return !exchange_from("127.0.0.9", front_port, request).empty(); })) << "haproxy did not start";

    std::set<std::string> sites;
    for (int i = 0; i < 6; ++i) {
        const std::string answer = exchange_from("127.0.0.9", front_port, request);
        EXPECT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer;
        EXPECT_TRUE(contains(answer, "client 127.0.0.9:")) << "the client's address, not HAProxy's: " << answer;
        sites.insert(contains(answer, "test-worker one ") ? "one" : contains(answer, "test-worker two ") ? "two" : "?");
    }
    EXPECT_EQ(sites, (std::set<std::string>{"one", "two"})) << "both instances served";
}

}  // namespace
