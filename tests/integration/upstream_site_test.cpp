// Scenario: an app that can only listen on a port (here a small Python server), hosted
// through vhostd-upstream: it gets a free port or a Unix socket, the site is ready once the
// app accepts, connections are relayed, and an app that dies is restarted with its worker.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <regex>

using namespace vhostd::test;

namespace {

std::string upstream_site(const std::string& options, unsigned workers = 1) {
    return "[sites.legacy]\nhosts = [\"legacy.example\"]\nworkers = " + std::to_string(workers) + "\ncommand = [\"vhostd-upstream\"" +
           options + ", \"--\", \"python3\", \"" + port_app_script + "\", \"--port=$PORT\", \"--socket=${SOCKET}\"]\n";
}

std::optional<int> app_pid(const std::string& body) {
    std::smatch match;
    static const std::regex pattern("port-app pid (\\d+)");
    if (!std::regex_search(body, match, pattern)) return std::nullopt;
    return std::stoi(match[1].str());
}

bool answered_by_app(std::uint16_t port, const std::string& path = "/") {
    const auto answer = try_get(port, "legacy.example", path);
    return answer && answer->status() == 200 && answer->body().starts_with("port-app");
}

}  // namespace

TEST(UpstreamSite, AnAppOnAFreePortIsServedThroughTheRelay) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + upstream_site("", 2));
    ASSERT_TRUE(wait_until([&] { return answered_by_app(port); }, 20s)) << vhostd.log();

    // The port was put into the environment and into "$PORT" arguments; "${SOCKET}" is not set.
    // The app's output reaches vhostd's log through a pipe: wait for it.
    ASSERT_TRUE(vhostd.wait_for_log("', '--socket=${SOCKET}'])")) << vhostd.log();
    std::smatch match;
    const std::string log = vhostd.log();
    ASSERT_TRUE(std::regex_search(log, match, std::regex("port-app listening \\(\\['--port=(\\d+)', '--socket=\\$\\{SOCKET\\}'\\]\\)")))
        << log;

    // Keep-alive through the relay: two requests, one connection, the same app process.
    Connection connection(port);
    connection.send("GET /one HTTP/1.1\r\nHost: legacy.example\r\n\r\nGET /two HTTP/1.1\r\nHost: legacy.example\r\n\r\n");
    const Exchange both = connection.read_until([](const std::string& text) { return text.find("path /two") != std::string::npos; });
    EXPECT_NE(both.response.find("path /one"), std::string::npos) << both.response;
    EXPECT_NE(both.response.find("path /two"), std::string::npos) << both.response;
    EXPECT_NE(both.response.find("client -"), std::string::npos) << "no PROXY line unless asked for";
}

TEST(UpstreamSite, UnixSocketAndProxyProtocolTellTheAppTheClient) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + upstream_site(", \"--unix\", \"--proxy-protocol\""));
    ASSERT_TRUE(wait_until([&] { return answered_by_app(port); }, 20s)) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_for_log("--socket=/")) << "the socket path replaced ${SOCKET}:\n" << vhostd.log();
    const Exchange answer = get(port, "legacy.example", "/who");
    EXPECT_NE(answer.body().find("client 127.0.0.1 path /who"), std::string::npos) << answer.response;
}

TEST(UpstreamSite, AnAppThatDiesIsRestartedWithItsWorker) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + upstream_site(""));
    ASSERT_TRUE(wait_until([&] { return answered_by_app(port); }, 20s)) << vhostd.log();
    const auto before = app_pid(get(port, "legacy.example").body());
    ASSERT_TRUE(before);

    get(port, "legacy.example", "/exit");  // the app exits with status 3 mid-request
    ASSERT_TRUE(vhostd.wait_for_log("the app exited with status 3")) << vhostd.log();
    std::optional<int> after;
    ASSERT_TRUE(wait_until([&] {
        after = app_pid(get(port, "legacy.example").body());
        return after && *after != *before;
    }, 20s)) << vhostd.log();
}

TEST(UpstreamSite, AnAppThatNeverListensIsAFailedStart) {
    TempDir dir;
    const std::uint16_t port = free_port();
    VhostdProcess vhostd(dir, listen_on(port) + "[sites.legacy]\nhosts = [\"legacy.example\"]\n"
                                                "upstream = [\"/bin/sh\", \"-c\", \"exit 4\"]\nqueue_timeout = \"1s\"\n");
    EXPECT_TRUE(vhostd.wait_for_log("the app did not accept on PORT=")) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_for_log("it exited with status 4")) << vhostd.log();
    EXPECT_EQ(get(port, "legacy.example").status(), 503);
}
