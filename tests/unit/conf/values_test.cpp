// The primitives of conf/value_reader.cpp as every section meets them: value types,
// integers and sizes in range (and the edges of each range), durations, host patterns.
#include "tests/unit/conf/load_helpers.hpp"

#include <gtest/gtest.h>

namespace vhostd::conf {
namespace {

using namespace std::chrono_literals;

TEST(LoadConfig, AcceptsTheEdgesOfEveryRange) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:1"
[[listen]]
address = "127.0.0.1:65535"
[server]
threads = 64
max_head_size = "1MiB"
max_header_fields = 1000
[sites.high]
hosts = ["high.example"]
command = ["./high"]
workers = 256
restart_limit = { count = 100000, cooldown = "1ms" }
max_in_flight = 1024
queue_size = 1000000
max_age = "0s"
drain_timeout = "0s"
queue_timeout = "0ms"
max_requests = 4611686018427387904
idle_timeout = "1ms"
start_timeout = "1ms"
kill_timeout = "1ms"
limits = { open_files = 1048576, address_space = "1MiB" }
[sites.elastic]
hosts = ["elastic.example"]
command = ["./elastic"]
min_workers = 256
max_workers = 256
)");
    EXPECT_EQ(config.listeners[0].endpoint.port, 1);
    EXPECT_EQ(config.listeners[1].endpoint.port, 65535);
    EXPECT_EQ(config.server.threads, 64u);
    EXPECT_EQ(config.server.max_head_size, 1024u * 1024);
    EXPECT_EQ(config.server.max_header_fields, 1000u);
    ASSERT_EQ(config.sites.size(), 2u);
    EXPECT_EQ(config.sites[0].min_workers, 256u);
    EXPECT_EQ(config.sites[0].max_workers, 256u);
    EXPECT_EQ(config.sites[0].restart_limit.cooldown, 1ms);
    EXPECT_EQ(config.sites[0].restart_limit.count, 100000u);
    EXPECT_EQ(config.sites[0].max_in_flight, 1024u);
    EXPECT_EQ(config.sites[0].queue_size, 1000000u);
    EXPECT_EQ(config.sites[0].max_age, 0ms);
    EXPECT_EQ(config.sites[0].drain_timeout, 0ms);
    EXPECT_EQ(config.sites[0].queue_timeout, 0ms);
    EXPECT_EQ(config.sites[0].max_requests, std::uint64_t{1} << 62);
    EXPECT_EQ(config.sites[0].idle_timeout, 1ms);
    EXPECT_EQ(config.sites[0].start_timeout, 1ms);
    EXPECT_EQ(config.sites[0].kill_timeout, 1ms);
    EXPECT_EQ(config.sites[0].limits.open_files, 1048576u);
    EXPECT_EQ(config.sites[0].limits.address_space, 1024u * 1024);
    EXPECT_EQ(config.sites[1].min_workers, 256u);
    EXPECT_EQ(config.sites[1].max_workers, 256u);

    const Config low = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[server]
threads = 1
max_head_size = "1KiB"
max_header_fields = 1
log_max_size = "64KiB"
log_files = 1
[sites.low]
hosts = ["low.example"]
command = ["./low"]
min_workers = 0
max_workers = 1
limits = { open_files = 1 }
)");
    EXPECT_EQ(low.server.threads, 1u);
    EXPECT_EQ(low.server.max_head_size, 1024u);
    EXPECT_EQ(low.server.max_header_fields, 1u);
    EXPECT_EQ(low.server.log_max_size, 64u * 1024);
    EXPECT_EQ(low.server.log_files, 1u);
    ASSERT_EQ(low.sites.size(), 1u);
    EXPECT_EQ(low.sites[0].min_workers, 0u);
    EXPECT_EQ(low.sites[0].max_workers, 1u);
    EXPECT_EQ(low.sites[0].limits.open_files, 1u);

    const Config high_log = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[server]
log_files = 100
[sites.one]
hosts = ["one.example"]
command = ["./one"]
)");
    EXPECT_EQ(high_log.server.log_files, 100u);
}

TEST(LoadConfig, ReportsWrongValueTypes) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = 8080
tls = "yes"
[server]
threads = "2"
max_header_fields = 1.5
[sites.blog]
hosts = "blog.example"
command = "./blog"
env = ["A=1"]
default = 1
)"),
              (Errors{
                  "2:11: listen[0].address: must be a string",
                  "3:7: listen[0].tls: must be a boolean",
                  "5:11: server.threads: must be an integer",
                  "6:21: server.max_header_fields: must be an integer",
                  "8:9: sites.blog.hosts: must be an array",
                  "9:11: sites.blog.command: must be an array",
                  "10:7: sites.blog.env: must be a table",
                  "11:11: sites.blog.default: must be a boolean",
              }));
}

TEST(LoadConfig, ReportsIntegersAndSizesOutOfRange) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[server]
threads = 0
max_head_size = "2MiB"
max_header_fields = 1001
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
workers = 257
restart_limit = { count = 0 }
max_in_flight = 1025
queue_size = -1
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
workers = 0
restart_limit = { count = 100001 }
max_in_flight = 0
queue_size = 1000001
)"),
              (Errors{
                  "4:11: server.threads: must be between 1 and 64",
                  "5:17: server.max_head_size: must be between 1KiB and 1MiB",
                  "6:21: server.max_header_fields: must be between 1 and 1000",
                  "10:11: sites.blog.workers: must be between 1 and 256",
                  "11:27: sites.blog.restart_limit.count: must be between 1 and 100000",
                  "12:17: sites.blog.max_in_flight: must be between 1 and 1024",
                  "13:14: sites.blog.queue_size: must be between 0 and 1000000",
                  "17:11: sites.shop.workers: must be between 1 and 256",
                  "18:27: sites.shop.restart_limit.count: must be between 1 and 100000",
                  "19:17: sites.shop.max_in_flight: must be between 1 and 1024",
                  "20:14: sites.shop.queue_size: must be between 0 and 1000000",
              }));

    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[server]
threads = 65
max_head_size = "1023B"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (Errors{
                  "4:11: server.threads: must be between 1 and 64",
                  "5:17: server.max_head_size: must be between 1KiB and 1MiB",
              }));
}

TEST(LoadConfig, ReportsBadDurationsAndSizes) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[server]
head_timeout = "10"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
max_age = 3600
heartbeat_timeout = "0s"
drain_timeout = "1.5s"
max_memory = "512MB"
restart_limit = { window = "0ms" }
queue_timeout = "5 s"
)"),
              (Errors{
                  "4:16: server.head_timeout: must be a duration like \"10s\" (units ms, s, m, h)",
                  "8:11: sites.blog.max_age: must be a duration like \"10s\" (units ms, s, m, h)",
                  "9:21: sites.blog.heartbeat_timeout: must be greater than 0",
                  "10:17: sites.blog.drain_timeout: must be a duration like \"10s\" (units ms, s, m, h)",
                  "11:14: sites.blog.max_memory: must be a size like \"16KiB\" (units B, KiB, MiB, GiB)",
                  "12:28: sites.blog.restart_limit.window: must be greater than 0",
                  "13:17: sites.blog.queue_timeout: must be a duration like \"10s\" (units ms, s, m, h)",
              }));

    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[server]
head_timeout = "0ms"
max_head_size = 16384
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (Errors{
                  "4:16: server.head_timeout: must be greater than 0",
                  "5:17: server.max_head_size: must be a size like \"16KiB\" (units B, KiB, MiB, GiB)",
              }));
}

TEST(LoadConfig, HostLabelsAndNamesHaveDnsLengthLimits) {
    const std::string label63(63, 'a');
    const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
    const Config accepted = load_valid("[[listen]]\naddress = \"127.0.0.1:8080\"\n[sites.blog]\ncommand = [\"./blog\"]\nhosts = [\"" +
                                       label63 + ".example\", \"" + name253 + "\"]\n");
    ASSERT_EQ(accepted.sites.size(), 1u);
    EXPECT_EQ(accepted.sites[0].hosts.size(), 2u);
    const auto refused = load_errors("[[listen]]\naddress = \"127.0.0.1:8080\"\n[sites.blog]\ncommand = [\"./blog\"]\nhosts = [\"" +
                                     label63 + "a.example\", \"" + name253 + "b\"]\n");
    EXPECT_EQ(refused.size(), 2u) << ::testing::PrintToString(refused);
}

TEST(LoadConfig, ReportsBadHostPatterns) {
    const std::string host_name_hint =
        "must be a host name, \"*.suffix\", an IPv4 address or a bracketed IPv6 address";
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
command = ["./blog"]
hosts = [
    "blog.example:8080",
    "[::1]:80",
    "a..b",
    "*",
    "::1",
    "bad host",
    "*.",
    "",
    "a.*.b",
    "[::1",
    "[nope]",
    7,
]
)"),
              (Errors{
                  "6:5: sites.blog.hosts[0]: must not include a port",
                  "7:5: sites.blog.hosts[1]: must not include a port",
                  "8:5: sites.blog.hosts[2]: " + host_name_hint,
                  "9:5: sites.blog.hosts[3]: " + host_name_hint,
                  "10:5: sites.blog.hosts[4]: an IPv6 address must be in brackets, like \"[::1]\"",
                  "11:5: sites.blog.hosts[5]: " + host_name_hint,
                  "12:5: sites.blog.hosts[6]: " + host_name_hint,
                  "13:5: sites.blog.hosts[7]: " + host_name_hint,
                  "14:5: sites.blog.hosts[8]: " + host_name_hint,
                  "15:5: sites.blog.hosts[9]: is not a valid bracketed IPv6 address",
                  "16:5: sites.blog.hosts[10]: is not a valid bracketed IPv6 address",
                  "17:5: sites.blog.hosts[11]: must be a string",
              }));
}

}  // namespace
}  // namespace vhostd::conf
