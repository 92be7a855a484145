#include "apps/vhostctl/status_table.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace vhostd::ctl {
namespace {

// A /status document as docs/status.md describes it: blog is healthy, shop hit its
// restart limit, api has one of its two workers still starting.
constexpr const char* sample_status = R"({
  "server": {"version": "0.1.0", "pid": 1234, "uptime_seconds": 3725.5, "config": "/etc/vhostd/vhostd.toml",
             "reloads": 2, "threads": 1},
  "front": {"accepted": 120, "in_front": 0,
            "answered": {"400": 1, "404": 2, "408": 0, "414": 0, "421": 0, "431": 0, "505": 0}},
  "sites": [
    {"name": "blog", "hosts": ["blog.example", "*.blog.example"], "default": false,
     "min_workers": 2, "max_workers": 2, "quarantined": false, "quarantine_seconds_left": 0,
     "connections": 100, "handed_off": 98, "websocket_upgrades": 3,
     "answered": {"503": 2}, "queue_length": 0,
     "handoff_latency_us": {"count": 98, "p50": 21.0, "p90": 25.0, "p99": 70.4},
     "requests": 250, "active_connections": 4, "websockets": 1,
     "restarts": {"crash": 1, "hung": 0, "start_failure": 0, "channel_lost": 0,
                  "age": 2, "memory": 0, "requests": 0, "reload": 0, "idle": 0},
     "workers_by_state": {"starting": 0, "ready": 2, "draining": 0, "stopping": 0},
     "workers": [
       {"pid": 2001, "slot": 0, "generation": 1, "state": "ready", "retiring": null,
        "uptime_seconds": 12.1, "rss_bytes": 5242880, "cpu_seconds": 0.42,
        "active_connections": 2, "requests": 130, "websockets": 1},
       {"pid": 31002, "slot": 1, "generation": 3, "state": "ready", "retiring": "max_age reached",
        "uptime_seconds": 90061, "rss_bytes": 136314880, "cpu_seconds": 75.5,
        "active_connections": 2, "requests": 120, "websockets": 0}
     ]},
    {"name": "shop", "hosts": ["shop.example"], "default": true,
     "min_workers": 1, "max_workers": 1, "quarantined": true, "quarantine_seconds_left": 42,
     "connections": 17, "handed_off": 0, "websocket_upgrades": 0,
     "answered": {"503": 17}, "queue_length": 0,
     "handoff_latency_us": {"count": 0, "p50": 0.0, "p90": 0.0, "p99": 0.0},
     "requests": 0, "active_connections": 0, "websockets": 0,
     "restarts": {"crash": 10, "hung": 0, "start_failure": 0, "channel_lost": 0,
                  "age": 0, "memory": 0, "requests": 0, "reload": 0, "idle": 0},
     "workers_by_state": {"starting": 0, "ready": 0, "draining": 0, "stopping": 0},
     "workers": []},
    {"name": "api", "hosts": ["api.example"], "default": false,
     "min_workers": 2, "max_workers": 4, "quarantined": false, "quarantine_seconds_left": 0,
     "connections": 5, "handed_off": 5, "websocket_upgrades": 0,
     "answered": {"503": 0}, "queue_length": 0,
     "handoff_latency_us": {"count": 5, "p50": 3.0, "p90": 4.0, "p99": 4.25},
     "requests": 1234567, "active_connections": 0, "websockets": 0,
     "restarts": {"crash": 0, "hung": 0, "start_failure": 0, "channel_lost": 0,
                  "age": 0, "memory": 0, "requests": 0, "reload": 0, "idle": 0},
     "workers_by_state": {"starting": 1, "ready": 1, "draining": 0, "stopping": 0},
     "workers": [
       {"pid": 4001, "slot": 0, "generation": 1, "state": "ready", "retiring": null,
        "uptime_seconds": 303, "rss_bytes": 10485760, "cpu_seconds": 1.0,
        "active_connections": 0, "requests": 1234567, "websockets": 0},
       {"pid": 4002, "slot": 1, "generation": 1, "state": "starting", "retiring": null,
        "uptime_seconds": 0.3, "rss_bytes": 1048576, "cpu_seconds": 0.0,
        "active_connections": 0, "requests": 0, "websockets": 0}
     ]}
  ]
})";

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST(StatusTable, OneLinePerSiteAndWorker) {
    const std::vector<std::string> lines = lines_of(render_status_table(boost::json::parse(sample_status)));
    const std::vector<std::string> expected = {
        "vhostd 0.1.0  pid 1234  up 1h02m  reloads 2  /etc/vhostd/vhostd.toml",
        "NAME  STATE        WORKERS  REQUESTS  ACTIVE  503s  RESTARTS  HANDOFF p99",
        "blog  ok               2/2       250       4     2         3        70 µs",
        "  pid  2001  ready     up   12s    5.0 MiB  cpu  0.42 s      130 req",
        "  pid 31002  ready     up 1d01h  130.0 MiB  cpu 75.50 s      120 req  (retiring: max_age reached)",
        "shop  quarantined      0/0         0       0    17        10            -",
        "api   degraded         1/2   1234567       0     0         0       4.2 µs",
        "  pid  4001  ready     up 5m03s   10.0 MiB  cpu  1.00 s  1234567 req",
        "  pid  4002  starting  up    0s    1.0 MiB  cpu  0.00 s        0 req",
    };
    EXPECT_EQ(lines, expected);
}

TEST(StatusTable, NoSites) {
    const auto status = boost::json::parse(R"({"server": {"version": "0.1.0", "pid": 7, "uptime_seconds": 59.9,
                                                           "config": "/srv/v.toml", "reloads": 0}, "sites": []})");
    const std::vector<std::string> lines = lines_of(render_status_table(status));
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], "vhostd 0.1.0  pid 7  up 59s  reloads 0  /srv/v.toml");
    EXPECT_EQ(lines[2], "(no sites)");
}

// A vhostd whose /status lacks fields (older, newer, or half-written) still gives a table.
TEST(StatusTable, MissingFieldsShowAsDash) {
    const auto status = boost::json::parse(R"({"sites": [{"name": "bare", "workers": [{"pid": 9}]}]})");
    const std::vector<std::string> lines = lines_of(render_status_table(status));
    const std::vector<std::string> expected = {
        "NAME  STATE  WORKERS  REQUESTS  ACTIVE  503s  RESTARTS  HANDOFF p99",
        "bare  ok         0/1         -       -     -         -            -",
        "  pid 9  -  up -  - MiB  cpu - s  - req",
    };
    EXPECT_EQ(lines, expected);
}

// Without the worker list the tally by state still gives ready/total.
TEST(StatusTable, WorkersFromTallyWhenListIsAbsent) {
    const auto status = boost::json::parse(R"({"sites": [{"name": "x", "min_workers": 3,
        "workers_by_state": {"starting": 1, "ready": 2, "draining": 1, "stopping": 0}}]})");
    const std::vector<std::string> lines = lines_of(render_status_table(status));
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1], "x     degraded      2/4         -       -     -         -            -");
}

TEST(StatusTable, RejectsWhatIsNotAnObject) {
    EXPECT_THROW(render_status_table(boost::json::parse("[1, 2]")), std::invalid_argument);
}

TEST(CertificatesTable, OneLinePerNameWithItsStateAndError) {
    const boost::json::value status = boost::json::parse(R"({"certificates": [
      {"name": "shop.example", "site": "shop", "state": "valid", "failures": 0, "last_error": null,
       "next_attempt": 1000086400, "last_attempt": 999990000,
       "certificate": {"issuer": "Pebble Intermediate CA", "not_after": 1002592000, "names": ["shop.example"]}},
      {"name": "new.example", "site": "shop", "state": "retrying", "failures": 3, "certificate": null,
       "next_attempt": 999999990, "last_error": "newOrder: urn:ietf:params:acme:error:rateLimited"}]})");
    const std::vector<std::string> lines = lines_of(render_certificates_table(status, 1'000'000'000));
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].rfind("NAME", 0), 0u);
    EXPECT_NE(lines[1].find("shop.example  shop  valid"), std::string::npos) << lines[1];
    EXPECT_NE(lines[1].find("Pebble Intermediate CA  2001-10-09 01:46  in 1d00h"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find("new.example"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("retrying"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("now"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("3  newOrder: urn:ietf:params:acme:error:rateLimited"), std::string::npos) << lines[2];
}

TEST(CertificatesTable, NoAutoSitesSaysSo) {
    EXPECT_EQ(render_certificates_table(boost::json::parse(R"({"sites": []})"), 0), "no certificates: no site has tls = \"auto\"\n");
    EXPECT_THROW(render_certificates_table(boost::json::parse("[]"), 0), std::invalid_argument);
}

}  // namespace
}  // namespace vhostd::ctl
