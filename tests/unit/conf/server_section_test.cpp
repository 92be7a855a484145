// [server] (conf/server_section.cpp): logs, the access log and the caps on slow clients.
#include "tests/unit/conf/load_helpers.hpp"

#include <gtest/gtest.h>

namespace vhostd::conf {
namespace {

TEST(LoadConfig, ResolvesLogDirAgainstTheConfigDirectory) {
    const auto log_dir = [](std::string_view value) {
        return load_valid("[[listen]]\naddress = \"127.0.0.1:8080\"\n[server]\nlog_dir = \"" + std::string(value) +
                          "\"\n[sites.blog]\nhosts = [\"blog.example\"]\ncommand = [\"./blog\"]\n")
            .server.log_dir;
    };
    EXPECT_EQ(log_dir("logs"), "/tmp/x/logs");
    EXPECT_EQ(log_dir("./logs/"), "/tmp/x/logs");
    EXPECT_EQ(log_dir("../var/./log/"), "/tmp/var/log");
    EXPECT_EQ(log_dir("."), "/tmp/x");
    EXPECT_EQ(log_dir("/var/log/vhostd/"), "/var/log/vhostd");
}

TEST(LoadConfig, ReportsBadLogSettings) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[server]
log_dir = ""
log_max_size = "65535B"
log_files = 0
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (Errors{
                  "4:11: server.log_dir: must not be empty",
                  "5:16: server.log_max_size: must be at least 64KiB",
                  "6:13: server.log_files: must be between 1 and 100",
              }));

    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[server]
log_dir = ["logs"]
log_max_size = "10MB"
log_files = 101
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (Errors{
                  "4:11: server.log_dir: must be a string",
                  "5:16: server.log_max_size: must be a size like \"16KiB\" (units B, KiB, MiB, GiB)",
                  "6:13: server.log_files: must be between 1 and 100",
              }));
}

TEST(LoadConfig, CapsOnSlowClients) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[server]
max_waiting_heads = 500
max_waiting_heads_per_ip = 20
max_connections_per_ip = 40
max_tls_handshakes = 30
backlog = 128
user = "vhostd"
group = "vhostd"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)");
    EXPECT_EQ(config.server.max_waiting_heads, 500u);
    EXPECT_EQ(config.server.max_waiting_heads_per_ip, 20u);
    EXPECT_EQ(config.server.max_connections_per_ip, 40u);
    EXPECT_EQ(config.server.max_tls_handshakes, 30u);
    EXPECT_EQ(config.server.backlog, 128u);
    EXPECT_EQ(config.server.user, "vhostd");
    EXPECT_EQ(config.server.group, "vhostd");
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[server]
max_waiting_heads = 0
backlog = 70000
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (std::vector<std::string>{
                  "4:21: server.max_waiting_heads: must be between 1 and 10000000",
                  "5:11: server.backlog: must be between 1 and 65535",
              }));
}

TEST(LoadConfig, AccessLogResolvesAgainstTheConfigDir) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[server]
access_log = "logs/access.log"
access_log_format = "json"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)");
    EXPECT_EQ(config.server.access_log, "/tmp/x/logs/access.log");
    EXPECT_TRUE(config.server.access_log_json);
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[server]
access_log_format = "xml"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (Errors{"4:21: server.access_log_format: must be \"plain\" or \"json\""}));
}

}  // namespace
}  // namespace vhostd::conf
