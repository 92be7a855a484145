// Scenario: an operator reads and steers vhostd through the admin endpoint while traffic
// flows: exact counters in /status and /metrics, a token, reload errors, site controls.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"
#include "tests/integration/support/websocket_client.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <poll.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

using namespace vhostd::test;
namespace json = boost::json;

namespace {

std::string admin_block(std::uint16_t port, const std::string& extra = "") {
    return "[admin]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n" + extra + "\n";
}

Exchange admin_request(std::uint16_t port, const std::string& method, const std::string& path, const std::string& token = "") {
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n";
    if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
    return round_trip(port, request + "\r\n");
}

// The status code, or 0 while the admin endpoint does not accept connections yet.
int admin_status_code(std::uint16_t port, const std::string& path, const std::string& token = "") {
    try {
        return admin_request(port, "GET", path, token).status();
    } catch (const std::exception&) {
        return 0;
    }
}

json::object status_of(std::uint16_t port) {
    const Exchange answer = admin_request(port, "GET", "/status");
    EXPECT_EQ(answer.status(), 200) << answer.response;
    return json::parse(answer.body()).as_object();
}

const json::object& site_in(const json::object& status, const std::string& name) {
    for (const auto& site : status.at("sites").as_array()) {
        if (site.as_object().at("name").as_string() == name) return site.as_object();
    }
    throw std::runtime_error("no site " + name + " in /status");
}

std::uint64_t number(const json::value& value) { return value.to_number<std::uint64_t>(); }

// A strict reader of the Prometheus text format (0.0.4): every sample belongs to the family
// its TYPE line declared just before, names and labels are well formed, values are numbers,
// and no family appears twice. Returns "name{labels}" -> value.
std::map<std::string, double> parse_prometheus(const std::string& text) {
    static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+)");
    static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
    static const std::regex sample(
        R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf))");
    std::map<std::string, double> samples;
    std::set<std::string> families;
    std::string family, family_type;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::smatch match;
        if (std::regex_match(line, match, help)) continue;
        if (std::regex_match(line, match, type)) {
            family = match[1];
            family_type = match[2];
            if (!families.insert(family).second) throw std::runtime_error("family twice: " + family);
            continue;
        }
        if (!std::regex_match(line, match, sample)) throw std::runtime_error("not a sample line: " + line);
        const std::string name = match[1];
        const bool belongs = name == family || (family_type == "histogram" && (name == family + "_bucket" || name == family + "_sum" ||
                                                                               name == family + "_count"));
        if (!belongs) throw std::runtime_error("sample outside its family: " + line);
        const std::string key = name + std::string(match[2]);
        if (samples.contains(key)) throw std::runtime_error("sample twice: " + key);
        samples[key] = std::stod(match[7]);
    }
    return samples;
}

class Admin : public ::testing::Test {
protected:
    TempDir dir;
    std::uint16_t port = free_port();
    std::uint16_t admin = free_port();
};

TEST_F(Admin, CountersAreExactAndMetricsAreValidPrometheus) {
    VhostdProcess vhostd(dir, listen_on(port) + admin_block(admin) + hello_site("blog", R"(["blog.example"])", 1) +
                                  hello_site("shop", R"(["shop.example"])", 1));
    ASSERT_TRUE(wait_until([&] { return admin_status_code(admin, "/readyz") == 200; })) << vhostd.log();

    for (int i = 0; i < 10; ++i) ASSERT_EQ(get(port, "blog.example").status(), 200);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(get(port, "shop.example").status(), 200);
    for (int i = 0; i < 2; ++i) ASSERT_EQ(get(port, "nobody.example").status(), 404);
    ASSERT_EQ(round_trip(port, "GET / HTTP/1.1\r\n\r\n").status(), 400);
    WebSocketClient{port, "blog.example"};  // upgrades, then closes

    // Requests come from heartbeats (1 s apart by default): wait for them. The upgrade is
    // a request too.
    ASSERT_TRUE(wait_until([&] { return number(site_in(status_of(admin), "blog").at("requests")) == 11; })) << json::serialize(status_of(admin));
    const json::object status = status_of(admin);
    const json::object& front = status.at("front").as_object();
    EXPECT_EQ(number(front.at("accepted")), 17u);
    EXPECT_EQ(number(front.at("answered").at("404")), 2u);
    EXPECT_EQ(number(front.at("answered").at("400")), 1u);
    const json::object& blog = site_in(status, "blog");
    EXPECT_EQ(number(blog.at("connections")), 11u);
    EXPECT_EQ(number(blog.at("handed_off")), 11u);
    EXPECT_EQ(number(blog.at("websocket_upgrades")), 1u);
    EXPECT_EQ(number(blog.at("handoff_latency_us").at("count")), 11u);
    EXPECT_EQ(blog.at("workers").as_array().size(), 1u);
    EXPECT_EQ(blog.at("workers").as_array()[0].at("state").as_string(), "ready");
    EXPECT_EQ(number(site_in(status, "shop").at("connections")), 3u);

    const Exchange metrics = admin_request(admin, "GET", "/metrics");
    ASSERT_EQ(metrics.status(), 200);
    EXPECT_NE(metrics.response.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    std::map<std::string, double> samples;
    ASSERT_NO_THROW(samples = parse_prometheus(metrics.body())) << metrics.body();
    EXPECT_EQ(samples["vhostd_connections_accepted_total"], 17);
    EXPECT_EQ(samples["vhostd_front_answers_total{status=\"404\"}"], 2);
    EXPECT_EQ(samples["vhostd_site_connections_total{site=\"blog\"}"], 11);
    EXPECT_EQ(samples["vhostd_site_handoffs_total{site=\"shop\"}"], 3);
    EXPECT_EQ(samples["vhostd_site_handoff_latency_seconds_count{site=\"blog\"}"], 11);
    EXPECT_EQ(samples["vhostd_site_handoff_latency_seconds_bucket{site=\"blog\",le=\"+Inf\"}"], 11);
    EXPECT_EQ(samples["vhostd_site_workers{site=\"blog\",state=\"ready\"}"], 1);
}

TEST_F(Admin, TimeWaitedInTheQueueIsCounted) {
    VhostdProcess vhostd(dir, listen_on(port) + admin_block(admin) + "[sites.rare]\nhosts = [\"rare.example\"]\ncommand = [\"" +
                                  hello_worker_binary + "\"]\nmin_workers = 0\nmax_workers = 1\n");
    ASSERT_TRUE(wait_until([&] { return admin_status_code(admin, "/healthz") == 200; })) << vhostd.log();
    ASSERT_EQ(get(port, "rare.example").status(), 200);  // waits while its worker starts
    const json::object status = status_of(admin);
    const json::object& rare = site_in(status, "rare");
    EXPECT_EQ(number(rare.at("queue_wait_us").at("count")), 1u);
    EXPECT_GT(rare.at("queue_wait_us").at("p50").to_number<double>(), 0);
    EXPECT_EQ(number(rare.at("handed_off")), 1u);
    const auto samples = parse_prometheus(admin_request(admin, "GET", "/metrics").body());
    EXPECT_EQ(samples.at("vhostd_site_queue_wait_seconds_count{site=\"rare\"}"), 1);
}

TEST_F(Admin, TokenIsRequiredWhenConfigured) {
    dir.write("admin.token", "s3cret-token\n");
    VhostdProcess vhostd(dir, listen_on(port) + admin_block(admin, "token_file = \"admin.token\"") + hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(wait_until([&] { return admin_status_code(admin, "/healthz", "s3cret-token") == 200; })) << vhostd.log();
    EXPECT_EQ(admin_request(admin, "GET", "/").status(), 200) << "the page itself holds no secret; it asks for ?token=";
    EXPECT_EQ(admin_request(admin, "GET", "/status").status(), 401);
    EXPECT_EQ(admin_request(admin, "GET", "/status", "wrong-token").status(), 401);
    EXPECT_EQ(admin_request(admin, "POST", "/reload").status(), 401);
    EXPECT_EQ(admin_request(admin, "GET", "/status", "s3cret-token").status(), 200);
}

// DNS rebinding: a page on the attacker's name reaches the loopback endpoint, and its
// requests carry that name. Only the endpoint's own address, localhost and [admin] hosts pass.
TEST_F(Admin, AnswersOnlyItsOwnHosts) {
    VhostdProcess vhostd(dir, listen_on(port) + admin_block(admin, "hosts = [\"admin.example\"]") +
                                  hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(wait_until([&] { return admin_status_code(admin, "/healthz") == 200; })) << vhostd.log();
    const auto status_for = [&](const std::string& host) {
        return round_trip(admin, "GET /status HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n").status();
    };
    EXPECT_EQ(status_for("127.0.0.1:" + std::to_string(admin)), 200);
    EXPECT_EQ(status_for("localhost"), 200);
    EXPECT_EQ(status_for("Admin.Example:9"), 200);
    EXPECT_EQ(status_for("attacker.example"), 421);
    EXPECT_EQ(status_for("127.0.0.2"), 421);
    EXPECT_EQ(status_for("blog.example"), 421);
    EXPECT_EQ(round_trip(admin, "GET /status HTTP/1.1\r\nConnection: close\r\n\r\n").status(), 421);
    EXPECT_NE(vhostd.log().find("admin endpoint: refused GET /status"), std::string::npos) << vhostd.log();
}

TEST_F(Admin, RefusesChangesFromAnotherSitesPage) {
    VhostdProcess vhostd(dir, listen_on(port) + admin_block(admin) + hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example", 1)) << vhostd.log();
    const std::string self = "127.0.0.1:" + std::to_string(admin);
    const auto stop = [&](const std::string& fields) {
        return round_trip(admin, "POST /sites/blog/stop HTTP/1.1\r\nHost: " + self + "\r\n" + fields +
                                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    EXPECT_EQ(stop("Origin: http://attacker.example\r\n").status(), 403);
    EXPECT_EQ(stop("Origin: null\r\n").status(), 403);
    EXPECT_EQ(stop("Sec-Fetch-Site: cross-site\r\n").status(), 403);
    EXPECT_EQ(stop("Origin: http://127.0.0.1:" + std::to_string(port) + "\r\nSec-Fetch-Site: same-site\r\n").status(), 403);
    EXPECT_EQ(round_trip(admin, "POST /reload HTTP/1.1\r\nHost: " + self + "\r\nOrigin: http://attacker.example\r\nContent-Length: 0\r\n\r\n").status(),
              403);
    EXPECT_FALSE(site_in(status_of(admin), "blog").at("stopped").as_bool());
    EXPECT_EQ(get(port, "blog.example").status(), 200);
    // The dashboard's own origin, and clients that are not browsers, still steer it.
    EXPECT_EQ(stop("Origin: http://" + self + "\r\nSec-Fetch-Site: same-origin\r\n").status(), 200);
    EXPECT_TRUE(site_in(status_of(admin), "blog").at("stopped").as_bool());
    EXPECT_EQ(admin_request(admin, "POST", "/sites/blog/start").status(), 200);
}

TEST_F(Admin, OversizedRequestsGetAnAnswer) {
    VhostdProcess vhostd(dir, listen_on(port) + admin_block(admin) + hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(wait_until([&] { return admin_status_code(admin, "/healthz") == 200; })) << vhostd.log();
    const Exchange big_head =
        round_trip(admin, "GET /status HTTP/1.1\r\nHost: localhost\r\nCookie: " + std::string(20000, 'a') + "\r\n\r\n");
    EXPECT_EQ(big_head.status(), 431) << big_head.response;
    EXPECT_TRUE(big_head.closed);
    // The body vhostd does not read is drained before it closes: no reset, which would destroy
    // the answer in a client that reads it only after the reset came.
    Connection uploading(admin);
    uploading.send("POST /reload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 300000\r\n\r\n" + std::string(300000, 'x'));
    pollfd reset{uploading.fd(), 0, 0};  // POLLERR and POLLHUP are always reported
    EXPECT_EQ(::poll(&reset, 1, 1000), 0) << "reset or hung up before the answer was read";
    const Exchange big_body = uploading.read_all();
    EXPECT_EQ(big_body.status(), 413) << big_body.response;
    EXPECT_TRUE(big_body.closed);
    const Exchange garbage = round_trip(admin, "GET /status HTTP/1.1\r\nHost: localhost\r\nBad Field: x\r\n\r\n");
    EXPECT_EQ(garbage.status(), 400) << garbage.response;
}

// Connections without the token cannot hold the session slots: a 401 closes its connection,
// idle unauthenticated sessions give way to new ones, and vhostctl gets through 100 of them.
TEST_F(Admin, UnauthenticatedConnectionsCannotKeepVhostctlOut) {
    dir.write("admin.token", "t0ken\n");
    VhostdProcess vhostd(dir, listen_on(port) + admin_block(admin, "token_file = \"admin.token\"") +
                                  hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(wait_until([&] { return admin_status_code(admin, "/healthz", "t0ken") == 200; })) << vhostd.log();

    Connection denied(admin);
    denied.send("GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const Exchange answer = denied.read_all();
    EXPECT_EQ(answer.status(), 401);
    EXPECT_TRUE(answer.closed) << "the connection closes after a 401";

    std::vector<std::unique_ptr<Connection>> idle;
    for (int i = 0; i < 100; ++i) {
        idle.push_back(std::make_unique<Connection>(admin));
        if (i % 2 == 0) idle.back()->send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n");  // half a head
    }
    const std::string config = (dir.path() / "vhostd.toml").string();
    for (int i = 0; i < 3; ++i) {
        const auto [code, table] = run_command({vhostctl_binary, "-c", config, "status"});
        EXPECT_EQ(code, 0) << table << vhostd.log();
        EXPECT_NE(table.find("blog"), std::string::npos) << table;
    }
}

TEST_F(Admin, ReloadWithABrokenFileAnswersTheErrorsAndChangesNothing) {
    const std::string good = listen_on(port) + admin_block(admin) + hello_site("blog", R"(["blog.example"])", 1);
    VhostdProcess vhostd(dir, good);
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    const auto workers = vhostd.workers();

    dir.write("vhostd.toml", good + "[sites.shop]\nhosts = [\"shop.example\"]\ncommand = [\"./shop\"]\nworkers = 0\n");
    const Exchange answer = admin_request(admin, "POST", "/reload");
    EXPECT_EQ(answer.status(), 400) << answer.response;
    const json::object body = json::parse(answer.body()).as_object();
    EXPECT_FALSE(body.at("ok").as_bool());
    ASSERT_EQ(body.at("errors").as_array().size(), 1u);
    EXPECT_NE(std::string(body.at("errors").as_array()[0].as_string()).find("sites.shop.workers"), std::string::npos) << answer.body();
    EXPECT_EQ(get(port, "shop.example").status(), 404);
    EXPECT_EQ(vhostd.workers(), workers);

    dir.write("vhostd.toml", good + hello_site("shop", R"(["shop.example"])", 1));
    const Exchange applied = admin_request(admin, "POST", "/reload");
    EXPECT_EQ(applied.status(), 200) << applied.response;
    EXPECT_TRUE(vhostd.wait_until_serving(port, "shop.example")) << vhostd.log();
    EXPECT_EQ(number(status_of(admin).at("server").at("reloads")), 1u);
}

TEST_F(Admin, SitesCanBeStoppedStartedAndRestarted) {
    VhostdProcess vhostd(dir, listen_on(port) + admin_block(admin) + hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    const pid_t first = vhostd.workers().at(0);

    EXPECT_EQ(admin_request(admin, "POST", "/sites/blog/restart").status(), 200);
    EXPECT_TRUE(wait_until_gone(first)) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    EXPECT_EQ(number(site_in(status_of(admin), "blog").at("restarts").at("admin")), 1u);

    EXPECT_EQ(admin_request(admin, "POST", "/sites/blog/stop").status(), 200);
    EXPECT_TRUE(wait_until([&] { return vhostd.workers().empty(); })) << vhostd.log();
    EXPECT_EQ(get(port, "blog.example").status(), 503);
    EXPECT_EQ(admin_request(admin, "GET", "/readyz").status(), 503);

    EXPECT_EQ(admin_request(admin, "POST", "/sites/blog/start").status(), 200);
    EXPECT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    EXPECT_EQ(admin_request(admin, "POST", "/sites/nope/start").status(), 404);
    EXPECT_EQ(admin_request(admin, "DELETE", "/status").status(), 405);
    const Exchange head = admin_request(admin, "HEAD", "/status");
    EXPECT_EQ(head.status(), 200);
    EXPECT_TRUE(head.body().empty()) << head.response;
    EXPECT_NE(head.response.find("Content-Length: "), std::string::npos);
}

TEST_F(Admin, AccessLogHasALinePerOutcome) {
    VhostdProcess vhostd(dir, listen_on(port) + "[server]\naccess_log = \"access.log\"\naccess_log_format = \"json\"\n\n" +
                                  hello_site("blog", R"(["blog.example"])", 1));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    ASSERT_EQ(get(port, "nobody.example").status(), 404);
    std::vector<json::object> lines;
    ASSERT_TRUE(wait_until([&] {
        std::ifstream in(dir.path() / "access.log");
        lines.clear();
        for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line).as_object());
        return lines.size() >= 2;
    })) << vhostd.log();
    const json::object& handed = lines.front();
    EXPECT_EQ(handed.at("outcome").as_string(), "handed");
    EXPECT_EQ(handed.at("site").as_string(), "blog");
    EXPECT_EQ(handed.at("host").as_string(), "blog.example");
    EXPECT_GT(handed.at("worker_pid").as_int64(), 0);
    EXPECT_GT(handed.at("handoff_us").to_number<double>(), 0);
    EXPECT_TRUE(handed.contains("time"));
    const json::object& answered = lines.back();
    EXPECT_EQ(answered.at("outcome").as_string(), "404");
    EXPECT_EQ(answered.at("host").as_string(), "nobody.example");
    EXPECT_EQ(answered.at("site").as_string(), "");

    // logrotate: move the file away, reload, and the next line goes to a new file.
    std::filesystem::rename(dir.path() / "access.log", dir.path() / "access.log.1");
    ASSERT_TRUE(vhostd.reload(listen_on(port) + "[server]\naccess_log = \"access.log\"\naccess_log_format = \"json\"\n\n" +
                              hello_site("blog", R"(["blog.example"])", 1)));
    ASSERT_EQ(get(port, "blog.example").status(), 200);
    EXPECT_TRUE(wait_until([&] {
        std::ifstream in(dir.path() / "access.log");
        std::string line;
        return std::getline(in, line) && line.find("\"handed\"") != std::string::npos;
    })) << vhostd.log();
}

TEST_F(Admin, VhostctlShowsStatusReloadsAndRestarts) {
    dir.write("admin.token", "t0ken\n");
    VhostdProcess vhostd(dir, listen_on(port) + admin_block(admin, "token_file = \"admin.token\"") +
                                  hello_site("blog", R"(["blog.example"])", 2));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example", 2)) << vhostd.log();
    const std::string config = (dir.path() / "vhostd.toml").string();

    const auto [status_code, table] = run_command({vhostctl_binary, "-c", config, "status"});
    EXPECT_EQ(status_code, 0) << table;
    EXPECT_NE(table.find("blog"), std::string::npos) << table;
    EXPECT_NE(table.find("ready"), std::string::npos) << table;

    const auto [no_token_code, refused] = run_command({vhostctl_binary, "--admin", "127.0.0.1:" + std::to_string(admin), "status"});
    EXPECT_EQ(no_token_code, 1) << refused;
    EXPECT_NE(refused.find("token"), std::string::npos) << refused;

    const auto [reload_code, reloaded] = run_command({vhostctl_binary, "-c", config, "reload"});
    EXPECT_EQ(reload_code, 0) << reloaded;
    EXPECT_NE(reloaded.find("no changes"), std::string::npos) << reloaded;

    const auto [missing_code, missing] = run_command({vhostctl_binary, "-c", config, "restart", "nope"});
    EXPECT_EQ(missing_code, 1) << missing;

    const auto before = vhostd.workers();
    const auto [restart_code, restarted] = run_command({vhostctl_binary, "-c", config, "restart", "blog"});
    EXPECT_EQ(restart_code, 0) << restarted;
    for (pid_t old : before) EXPECT_TRUE(wait_until_gone(old)) << vhostd.log();

    const auto [top_code, top] = run_command({vhostctl_binary, "-c", config, "top", "--iterations", "2"});
    EXPECT_EQ(top_code, 0) << top;
    EXPECT_GE(std::count(top.begin(), top.end(), '\n'), 4) << top;
}

}  // namespace
