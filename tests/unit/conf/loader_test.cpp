#include "conf/loader.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace vhostd::conf {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Relative paths in the documents below resolve against /tmp/x.
const std::string config_path = "/tmp/x/site.toml";

Config load_valid(std::string_view text, const std::string& path = config_path) {
    auto result = load_config_string(text, path);
    if (const auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
        for (const ConfigError& error : *errors) {
            ADD_FAILURE() << error.to_string();
        }
        return {};
    }
    return std::get<Config>(std::move(result));
}

// Each error as "LINE:COL: KEY_PATH: MESSAGE", in the order the loader returns them.
std::vector<std::string> load_errors(std::string_view text) {
    auto result = load_config_string(text, config_path);
    const auto* errors = std::get_if<std::vector<ConfigError>>(&result);
    if (!errors) {
        ADD_FAILURE() << "the config was accepted";
        return {};
    }
    std::vector<std::string> described;
    for (const ConfigError& error : *errors) {
        EXPECT_EQ(error.file, config_path);
        described.push_back(std::to_string(error.line) + ":" + std::to_string(error.column) + ": " + error.key_path +
                            ": " + error.message);
    }
    return described;
}

using Errors = std::vector<std::string>;

TEST(ConfigError, FormatsPositionAndKeyPathWhenPresent) {
    EXPECT_EQ((ConfigError{"demo.toml", 12, 11, "sites.blog.workers", "must be between 1 and 256"}.to_string()),
              "demo.toml:12:11: sites.blog.workers: must be between 1 and 256");
    EXPECT_EQ((ConfigError{"demo.toml", 3, 7, "", "unexpected character"}.to_string()),
              "demo.toml:3:7: unexpected character");
    EXPECT_EQ((ConfigError{"demo.toml", 0, 0, "", "cannot read file: Permission denied"}.to_string()),
              "demo.toml: cannot read file: Permission denied");
    EXPECT_EQ((ConfigError{"demo.toml", 0, 0, "sites", "at least one"}.to_string()), "demo.toml: sites: at least one");
}

TEST(LoadConfig, ReadsEveryKeyOfAFullExample) {
    const Config config = load_valid(R"([[listen]]
address = "0.0.0.0:8080"

[[listen]]
address = "[::1]:8443"
tls = true

[server]
threads = 4
head_timeout = "2500ms"
max_head_size = "32KiB"
max_header_fields = 50
log_dir = "logs/vhostd/"
log_max_size = "1MiB"
log_files = 3

[admin]
listen = "127.0.0.1:9180"

[sites.shop]
hosts = ["Shop.Example.", "*.Shop.Example", "[::1]", "192.0.2.7", "under_score.example"]
command = ["./bin/../shop-server", "--prod"]
workers = 3
default = true
max_age = "2h"
max_memory = "512MiB"
heartbeat_timeout = "5s"
drain_timeout = "1m"
restart_limit = { count = 5, window = "30s", cooldown = "5m" }
restart_backoff = { initial = "50ms", max = "2s" }
env = { APP_ENV = "prod", _DEBUG2 = "0" }
cwd = "data/"
max_in_flight = 8
queue_size = 0
queue_timeout = "250ms"
idle_timeout = "90s"
max_requests = 10000
start_timeout = "45s"
kill_timeout = "500ms"
user = "shop"
group = "www-data"
limits = { open_files = 4096, address_space = "2GiB" }

[sites.blog]
hosts = ["blog.example"]
command = ["python3", "app.py"]
min_workers = 1
max_workers = 4
)");
    EXPECT_EQ(config.path, "/tmp/x/site.toml");

    ASSERT_EQ(config.listeners.size(), 2u);
    EXPECT_EQ(config.listeners[0].address, "0.0.0.0:8080");
    EXPECT_EQ(config.listeners[0].endpoint.host, "0.0.0.0");
    EXPECT_EQ(config.listeners[0].endpoint.port, 8080);
    EXPECT_FALSE(config.listeners[0].tls);
    EXPECT_EQ(config.listeners[1].address, "[::1]:8443");
    EXPECT_EQ(config.listeners[1].endpoint.host, "::1");
    EXPECT_EQ(config.listeners[1].endpoint.port, 8443);
    EXPECT_TRUE(config.listeners[1].tls);

    EXPECT_EQ(config.server.threads, 4u);
    EXPECT_EQ(config.server.head_timeout, 2500ms);
    EXPECT_EQ(config.server.max_head_size, 32u * 1024);
    EXPECT_EQ(config.server.max_header_fields, 50u);
    EXPECT_EQ(config.server.log_dir, "/tmp/x/logs/vhostd");
    EXPECT_EQ(config.server.log_max_size, 1024u * 1024);
    EXPECT_EQ(config.server.log_files, 3u);

    ASSERT_TRUE(config.admin.has_value());
    EXPECT_EQ(config.admin->address, "127.0.0.1:9180");
    EXPECT_EQ(config.admin->endpoint.host, "127.0.0.1");
    EXPECT_EQ(config.admin->endpoint.port, 9180);

    // File order, although toml++ would iterate "blog" before "shop".
    ASSERT_EQ(config.sites.size(), 2u);
    const Site& shop = config.sites[0];
    EXPECT_EQ(shop.name, "shop");
    EXPECT_EQ(shop.hosts, (std::vector<std::string>{"shop.example", "*.shop.example", "[::1]", "192.0.2.7",
                                                    "under_score.example"}));
    EXPECT_EQ(shop.command, (std::vector<std::string>{"/tmp/x/shop-server", "--prod"}));
    EXPECT_EQ(shop.min_workers, 3u);
    EXPECT_EQ(shop.max_workers, 3u);
    EXPECT_TRUE(shop.is_default);
    EXPECT_EQ(shop.max_age, 2h);
    EXPECT_EQ(shop.max_memory, 512u * 1024 * 1024);
    EXPECT_EQ(shop.heartbeat_timeout, 5s);
    EXPECT_EQ(shop.drain_timeout, 1min);
    EXPECT_EQ(shop.restart_limit.count, 5u);
    EXPECT_EQ(shop.restart_limit.window, 30s);
    EXPECT_EQ(shop.restart_limit.cooldown, 5min);
    EXPECT_EQ(shop.restart_backoff.initial, 50ms);
    EXPECT_EQ(shop.restart_backoff.max, 2s);
    EXPECT_EQ(shop.env, (std::map<std::string, std::string>{{"APP_ENV", "prod"}, {"_DEBUG2", "0"}}));
    EXPECT_EQ(shop.cwd, "/tmp/x/data");
    EXPECT_EQ(shop.max_in_flight, 8u);
    EXPECT_EQ(shop.queue_size, 0u);
    EXPECT_EQ(shop.queue_timeout, 250ms);
    EXPECT_EQ(shop.idle_timeout, 90s);
    EXPECT_EQ(shop.max_requests, 10000u);
    EXPECT_EQ(shop.start_timeout, 45s);
    EXPECT_EQ(shop.kill_timeout, 500ms);
    EXPECT_EQ(shop.user, "shop");
    EXPECT_EQ(shop.group, "www-data");
    EXPECT_EQ(shop.limits.open_files, 4096u);
    EXPECT_EQ(shop.limits.address_space, 2u * 1024 * 1024 * 1024);

    const Site& blog = config.sites[1];
    EXPECT_EQ(blog.name, "blog");
    EXPECT_EQ(blog.command, (std::vector<std::string>{"python3", "app.py"}));
    EXPECT_FALSE(blog.is_default);
    EXPECT_EQ(blog.min_workers, 1u);
    EXPECT_EQ(blog.max_workers, 4u);
}

TEST(LoadConfig, AppliesDefaultsForEveryOptionalKey) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"

[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)");
    ASSERT_EQ(config.listeners.size(), 1u);
    EXPECT_FALSE(config.listeners[0].tls);
    EXPECT_EQ(config.server.threads, 1u);
    EXPECT_EQ(config.server.head_timeout, 10s);
    EXPECT_EQ(config.server.max_head_size, 16u * 1024);
    EXPECT_EQ(config.server.max_header_fields, 100u);
    EXPECT_EQ(config.server.log_dir, "");
    EXPECT_EQ(config.server.log_max_size, 10u * 1024 * 1024);
    EXPECT_EQ(config.server.log_files, 5u);
    EXPECT_FALSE(config.admin.has_value());

    ASSERT_EQ(config.sites.size(), 1u);
    const Site& blog = config.sites[0];
    EXPECT_EQ(blog.command, (std::vector<std::string>{"/tmp/x/blog"}));
    EXPECT_EQ(blog.cwd, "/tmp/x");
    EXPECT_TRUE(blog.env.empty());
    EXPECT_EQ(blog.min_workers, 1u);
    EXPECT_EQ(blog.max_workers, 1u);
    EXPECT_EQ(blog.idle_timeout, 60s);
    EXPECT_EQ(blog.user, "");
    EXPECT_EQ(blog.group, "");
    EXPECT_EQ(blog.limits.open_files, 0u);
    EXPECT_EQ(blog.limits.address_space, 0u);
    EXPECT_FALSE(blog.is_default);
    EXPECT_EQ(blog.max_age, 1h);
    EXPECT_EQ(blog.max_memory, 0u);
    EXPECT_EQ(blog.max_requests, 0u);
    EXPECT_EQ(blog.start_timeout, 30s);
    EXPECT_EQ(blog.heartbeat_timeout, 10s);
    EXPECT_EQ(blog.drain_timeout, 30s);
    EXPECT_EQ(blog.kill_timeout, 3s);
    EXPECT_EQ(blog.restart_limit.count, 10u);
    EXPECT_EQ(blog.restart_backoff.initial, 100ms);
    EXPECT_EQ(blog.restart_backoff.max, 10s);
    EXPECT_EQ(blog.restart_limit.window, 60s);
    EXPECT_EQ(blog.restart_limit.cooldown, 60s);
    EXPECT_EQ(blog.max_in_flight, 16u);
    EXPECT_EQ(blog.queue_size, 1024u);
    EXPECT_EQ(blog.queue_timeout, 5s);
}

TEST(LoadConfig, RestartLimitKeysDefaultSeparately) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
restart_limit = { window = "2m" }
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
restart_limit = { count = 3 }
[sites.wiki]
hosts = ["wiki.example"]
command = ["./wiki"]
restart_limit = { cooldown = "10m" }
)");
    ASSERT_EQ(config.sites.size(), 3u);
    EXPECT_EQ(config.sites[0].restart_limit.count, 10u);
    EXPECT_EQ(config.sites[0].restart_limit.window, 2min);
    EXPECT_EQ(config.sites[0].restart_limit.cooldown, 60s);
    EXPECT_EQ(config.sites[1].restart_limit.count, 3u);
    EXPECT_EQ(config.sites[1].restart_limit.window, 60s);
    EXPECT_EQ(config.sites[1].restart_limit.cooldown, 60s);
    EXPECT_EQ(config.sites[2].restart_limit.count, 10u);
    EXPECT_EQ(config.sites[2].restart_limit.window, 60s);
    EXPECT_EQ(config.sites[2].restart_limit.cooldown, 10min);
}

TEST(LoadConfig, LimitsKeysDefaultSeparately) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
limits = { open_files = 1024 }
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
[sites.shop.limits]
address_space = "512MiB"
[sites.wiki]
hosts = ["wiki.example"]
command = ["./wiki"]
limits = {}
)");
    ASSERT_EQ(config.sites.size(), 3u);
    EXPECT_EQ(config.sites[0].limits, (ResourceLimits{1024, 0}));
    EXPECT_EQ(config.sites[1].limits, (ResourceLimits{0, 512u * 1024 * 1024}));
    EXPECT_EQ(config.sites[2].limits, ResourceLimits{});
}

TEST(LoadConfig, PoolSizeFollowsWhicheverKeysAreGiven) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.fixed]
hosts = ["fixed.example"]
command = ["./app"]
workers = 4
[sites.only-max]
hosts = ["only-max.example"]
command = ["./app"]
max_workers = 8
[sites.only-min]
hosts = ["only-min.example"]
command = ["./app"]
min_workers = 3
[sites.only-min-zero]
hosts = ["only-min-zero.example"]
command = ["./app"]
min_workers = 0
[sites.both]
hosts = ["both.example"]
command = ["./app"]
max_workers = 6
min_workers = 2
[sites.equal]
hosts = ["equal.example"]
command = ["./app"]
min_workers = 5
max_workers = 5
[sites.neither]
hosts = ["neither.example"]
command = ["./app"]
)");
    std::vector<std::pair<unsigned, unsigned>> pools;
    for (const Site& site : config.sites) {
        pools.emplace_back(site.min_workers, site.max_workers);
    }
    EXPECT_EQ(pools, (std::vector<std::pair<unsigned, unsigned>>{{4, 4}, {0, 8}, {3, 3}, {0, 1}, {2, 6}, {5, 5}, {1, 1}}));
}

TEST(LoadConfig, ZeroMaxAgeAndMaxMemoryMeanNoLimit) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
max_age = "0s"
max_memory = "0B"
max_requests = 0
)");
    ASSERT_EQ(config.sites.size(), 1u);
    EXPECT_EQ(config.sites[0].max_age, 0ms);
    EXPECT_EQ(config.sites[0].max_memory, 0u);
    EXPECT_EQ(config.sites[0].max_requests, 0u);
}

TEST(LoadConfig, StoresUserAndGroupWithoutLookingThemUp) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
user = "no-such-user-on-this-machine"
group = "1000"
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
group = "nogroup"
)");
    ASSERT_EQ(config.sites.size(), 2u);
    EXPECT_EQ(config.sites[0].user, "no-such-user-on-this-machine");
    EXPECT_EQ(config.sites[0].group, "1000");
    EXPECT_EQ(config.sites[1].user, "");
    EXPECT_EQ(config.sites[1].group, "nogroup");
}

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

TEST(LoadConfig, LoadingTheSameTextTwiceGivesEqualConfigs) {
    const std::string text = R"([[listen]]
address = "127.0.0.1:8080"
[admin]
listen = "127.0.0.1:9180"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
env = { A = "1" }
limits = { open_files = 64 }
)";
    const Config first = load_valid(text);
    Config second = load_valid(text);
    EXPECT_EQ(first, second);
    second.sites[0].limits.open_files = 65;
    EXPECT_NE(first, second);
}

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

TEST(LoadConfig, ResolvesCommandAndCwdAgainstTheConfigDirectory) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.a]
hosts = ["a.example"]
command = ["bin/app"]
cwd = "/srv/app/"
[sites.b]
hosts = ["b.example"]
command = ["/usr/bin/env", "./not-resolved"]
cwd = "../data"
[sites.c]
hosts = ["c.example"]
command = ["../c/./run"]
cwd = "."
)");
    ASSERT_EQ(config.sites.size(), 3u);
    EXPECT_EQ(config.sites[0].command, (std::vector<std::string>{"/tmp/x/bin/app"}));
    EXPECT_EQ(config.sites[0].cwd, "/srv/app");
    EXPECT_EQ(config.sites[1].command, (std::vector<std::string>{"/usr/bin/env", "./not-resolved"}));
    EXPECT_EQ(config.sites[1].cwd, "/tmp/data");
    EXPECT_EQ(config.sites[2].command, (std::vector<std::string>{"/tmp/c/run"}));
    EXPECT_EQ(config.sites[2].cwd, "/tmp/x");
}

TEST(LoadConfig, MakesARelativeConfigPathAbsolute) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)",
                                     "conf/site.toml");
    const fs::path dir = fs::current_path() / "conf";
    EXPECT_EQ(config.path, (dir / "site.toml").string());
    ASSERT_EQ(config.sites.size(), 1u);
    EXPECT_EQ(config.sites[0].command, (std::vector<std::string>{(dir / "blog").string()}));
    EXPECT_EQ(config.sites[0].cwd, dir.string());
}

TEST(LoadConfig, DefaultSiteMayListNoHosts) {
    const Config without_key = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.fallback]
command = ["./fallback"]
default = true
)");
    ASSERT_EQ(without_key.sites.size(), 1u);
    EXPECT_TRUE(without_key.sites[0].is_default);
    EXPECT_TRUE(without_key.sites[0].hosts.empty());

    const Config empty_list = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.fallback]
hosts = []
command = ["./fallback"]
default = true
)");
    ASSERT_EQ(empty_list.sites.size(), 1u);
    EXPECT_TRUE(empty_list.sites[0].hosts.empty());
}

TEST(LoadConfig, ReportsSyntaxErrorsWithPositionAndNoKeyPath) {
    auto result = load_config_string(R"([[listen]]
address = "127.0.0.1:8080"
[server]
threads = 2
threads = 3
)",
                                     config_path);
    const auto* errors = std::get_if<std::vector<ConfigError>>(&result);
    ASSERT_NE(errors, nullptr);
    ASSERT_EQ(errors->size(), 1u);
    const ConfigError& error = errors->front();
    EXPECT_EQ(error.file, config_path);
    EXPECT_EQ(error.line, 5);
    EXPECT_EQ(error.column, 11);
    EXPECT_EQ(error.key_path, "");
    EXPECT_NE(error.message.find("threads"), std::string::npos) << error.message;
    EXPECT_EQ(error.to_string(), "/tmp/x/site.toml:5:11: " + error.message);
}

TEST(LoadConfig, ReportsUnknownKeysAtEveryLevel) {
    EXPECT_EQ(load_errors(R"(colour = "blue"
[[listen]]
address = "127.0.0.1:8080"
backlog = 10
[server]
thread = 2
[admin]
listen = "127.0.0.1:9180"
port = 9180
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
restart_limit = { count = 3, burst = 2 }
worker = 2
)"),
              (Errors{
                  "1:1: colour: unknown key",
                  "4:1: listen[0].backlog: unknown key",
                  "6:1: server.thread: unknown key",
                  "9:1: admin.port: unknown key",
                  "13:30: sites.blog.restart_limit.burst: unknown key",
                  "14:1: sites.blog.worker: unknown key",
              }));
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

TEST(LoadConfig, ReportsSectionsOfTheWrongType) {
    EXPECT_EQ(load_errors(R"(listen = { address = "127.0.0.1:8080" }
server = 1
admin = "127.0.0.1:9180"
sites = []
)"),
              (Errors{
                  "1:10: listen: must be an array of tables, written [[listen]]",
                  "2:10: server: must be a table",
                  "3:9: admin: must be a table",
                  "4:9: sites: must be a table",
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

TEST(LoadConfig, ReportsMissingSections) {
    EXPECT_EQ(load_errors(R"([server]
threads = 2
)"),
              (Errors{
                  "1:1: listen: at least one [[listen]] is required",
                  "1:1: sites: at least one [sites.NAME] is required",
              }));

    EXPECT_EQ(load_errors(R"(listen = []
[sites]
)"),
              (Errors{
                  "1:10: listen: at least one [[listen]] is required",
                  "2:1: sites: at least one [sites.NAME] is required",
              }));
}

TEST(LoadConfig, ReportsMissingRequiredKeysAtTheEnclosingTable) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[[listen]]
tls = true
[admin]
[sites.blog]
hosts = ["blog.example"]
[sites.shop]
command = ["./shop"]
)"),
              (Errors{
                  "3:1: listen[1].address: is required",
                  "5:1: admin.listen: is required",
                  "6:1: sites.blog.command: is required (or static = \"DIR\", or upstream = [COMMAND...])",
                  "8:1: sites.shop.hosts: is required unless default = true",
              }));
}

TEST(LoadConfig, ReportsBadListenAddresses) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "0.0.0.0"
[[listen]]
address = "0.0.0.0:0"
[[listen]]
address = "0.0.0.0:65536"
[[listen]]
address = "::1:8080"
[[listen]]
address = "[::1]:http"
[[listen]]
address = "[zz]:80"
[[listen]]
address = ":8080"
[admin]
listen = "localhost"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (Errors{
                  "2:11: listen[0].address: must be \"host:port\" (IPv6 as \"[::1]:8080\")",
                  "4:11: listen[1].address: port must be between 1 and 65535",
                  "6:11: listen[2].address: port must be between 1 and 65535",
                  "8:11: listen[3].address: an IPv6 host must be in brackets, like \"[::1]:8080\"",
                  "10:11: listen[4].address: port must be between 1 and 65535",
                  "12:11: listen[5].address: host is not a valid IPv6 address",
                  "14:11: listen[6].address: host must be an IP address (\"0.0.0.0\", \"127.0.0.1\", \"[::]\"), not a name",
                  "16:10: admin.listen: must be \"host:port\" (IPv6 as \"[::1]:8080\")",
              }));
}

TEST(LoadConfig, ListenAddressesAreNotResolved) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "localhost:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (Errors{"2:11: listen[0].address: host must be an IP address (\"0.0.0.0\", \"127.0.0.1\", \"[::]\"), not a name"}));
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

TEST(LoadConfig, ReportsEmptyHostListsOutsideTheDefaultSite) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.shop]
hosts = []
command = ["./shop"]
default = false
)"),
              (Errors{"4:9: sites.shop.hosts: must list at least one host unless default = true"}));
}

TEST(LoadConfig, ReportsDuplicateHostsNamingBothPlaces) {
    // "alpha" sorts before "blog" but comes second in the file: "blog" owns the host.
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example", "www.blog.example"]
command = ["./blog"]
[sites.alpha]
hosts = ["Blog.Example.", "alpha.example", "alpha.example"]
command = ["./alpha"]
)"),
              (Errors{
                  "7:10: sites.alpha.hosts[0]: host \"blog.example\" is already listed at "
                  "sites.blog.hosts[0] (line 4, column 10)",
                  "7:44: sites.alpha.hosts[2]: host \"alpha.example\" is already listed at "
                  "sites.alpha.hosts[1] (line 7, column 27)",
              }));
}

TEST(LoadConfig, ReportsASecondDefaultSiteNamingBoth) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.zz]
hosts = []
command = ["./zz"]
default = true
[sites.aa]
command = ["./aa"]
default = true
)"),
              (Errors{"9:11: sites.aa.default: only one site may be the default; sites.zz.default (line 6, column 11) "
                      "already is"}));
}

TEST(LoadConfig, ReportsBadCommands) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.b]
hosts = ["b.example"]
command = []
[sites.c]
hosts = ["c.example"]
command = ["./c", "", 3]
)"),
              (Errors{
                  "5:11: sites.b.command: must name a program to run",
                  "8:19: sites.c.command[1]: must not be empty",
                  "8:23: sites.c.command[2]: must be a string",
              }));
}

TEST(LoadConfig, ReportsBadSiteNamesEnvironmentAndCwd) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites."my blog"]
hosts = ["blog.example"]
command = ["./blog"]
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
env = { "1BAD" = "x", GOOD = 1, OK = "a\u0000b" }
cwd = ""
)"),
              (Errors{
                  "3:8: sites.my blog: site name must use only letters, digits, '-' and '_'",
                  "9:9: sites.shop.env.1BAD: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                  "9:30: sites.shop.env.GOOD: must be a string",
                  "9:38: sites.shop.env.OK: must not contain a NUL character",
                  "10:7: sites.shop.cwd: must not be empty",
              }));
}

TEST(LoadConfig, ReportsWorkersCombinedWithMinOrMaxAtTheLaterKey) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
workers = 2
max_workers = 4
min_workers = 1
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
min_workers = 1
workers = 2
[sites.wiki]
hosts = ["wiki.example"]
command = ["./wiki"]
max_workers = 4
workers = 2
min_workers = 1
)"),
              (Errors{
                  "7:1: sites.blog.max_workers: cannot be combined with workers",
                  "8:1: sites.blog.min_workers: cannot be combined with workers",
                  "13:1: sites.shop.workers: cannot be combined with min_workers",
                  "18:1: sites.wiki.workers: cannot be combined with max_workers",
                  "19:1: sites.wiki.min_workers: cannot be combined with workers",
              }));
}

TEST(LoadConfig, ReportsWorkersCombinedEvenWhenAValueIsOutOfRange) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
workers = 0
max_workers = 4
)"),
              (Errors{
                  "6:11: sites.blog.workers: must be between 1 and 256",
                  "7:1: sites.blog.max_workers: cannot be combined with workers",
              }));
}

TEST(LoadConfig, ReportsMinWorkersAboveMaxWorkers) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
max_workers = 2
min_workers = 3
)"),
              (Errors{"7:15: sites.blog.min_workers: must not be greater than max_workers (2)"}));

    // An out-of-range value is reported once, not compared with the other key as well.
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
min_workers = 257
max_workers = 2
)"),
              (Errors{"6:15: sites.blog.min_workers: must be between 0 and 256"}));
}

TEST(LoadConfig, ReportsPoolSizesOutOfRange) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
min_workers = -1
max_workers = 0
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
min_workers = 257
max_workers = 257
[sites.wiki]
hosts = ["wiki.example"]
command = ["./wiki"]
min_workers = "1"
max_workers = 1.0
)"),
              (Errors{
                  "6:15: sites.blog.min_workers: must be between 0 and 256",
                  "7:15: sites.blog.max_workers: must be between 1 and 256",
                  "11:15: sites.shop.min_workers: must be between 0 and 256",
                  "12:15: sites.shop.max_workers: must be between 1 and 256",
                  "16:15: sites.wiki.min_workers: must be an integer",
                  "17:15: sites.wiki.max_workers: must be an integer",
              }));
}

TEST(LoadConfig, ReportsBadWorkerLifetimeSettings) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
idle_timeout = "0s"
start_timeout = "0ms"
kill_timeout = "0s"
max_requests = -1
restart_limit = { cooldown = "0s" }
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
idle_timeout = 60
start_timeout = "30"
kill_timeout = "1.5s"
max_requests = 4611686018427387905
restart_limit = { cooldown = 60 }
)"),
              (Errors{
                  "6:16: sites.blog.idle_timeout: must be greater than 0",
                  "7:17: sites.blog.start_timeout: must be greater than 0",
                  "8:16: sites.blog.kill_timeout: must be greater than 0",
                  "9:16: sites.blog.max_requests: must be between 0 and 4611686018427387904",
                  "10:30: sites.blog.restart_limit.cooldown: must be greater than 0",
                  "14:16: sites.shop.idle_timeout: must be a duration like \"10s\" (units ms, s, m, h)",
                  "15:17: sites.shop.start_timeout: must be a duration like \"10s\" (units ms, s, m, h)",
                  "16:16: sites.shop.kill_timeout: must be a duration like \"10s\" (units ms, s, m, h)",
                  "17:16: sites.shop.max_requests: must be between 0 and 4611686018427387904",
                  "18:30: sites.shop.restart_limit.cooldown: must be a duration like \"10s\" (units ms, s, m, h)",
              }));
}

TEST(LoadConfig, ReportsBadUserAndGroup) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
user = ""
group = ""
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
user = 1000
group = "www\u0000data"
)"),
              (Errors{
                  "6:8: sites.blog.user: must not be empty",
                  "7:9: sites.blog.group: must not be empty",
                  "11:8: sites.shop.user: must be a string",
                  "12:9: sites.shop.group: must not contain a NUL character",
              }));
}

TEST(LoadConfig, ReportsBadResourceLimits) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
limits = { open_files = 0, address_space = "1023KiB", stack = "8MiB" }
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
limits = { open_files = 1048577, address_space = 1048576 }
[sites.wiki]
hosts = ["wiki.example"]
command = ["./wiki"]
limits = 1024
)"),
              (Errors{
                  "6:25: sites.blog.limits.open_files: must be between 1 and 1048576",
                  "6:44: sites.blog.limits.address_space: must be at least 1MiB",
                  "6:55: sites.blog.limits.stack: unknown key",
                  "10:25: sites.shop.limits.open_files: must be between 1 and 1048576",
                  "10:50: sites.shop.limits.address_space: must be a size like \"16KiB\" (units B, KiB, MiB, GiB)",
                  "14:10: sites.wiki.limits: must be a table",
              }));
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

TEST(LoadConfigFile, ReportsAnUnreadableFileWithoutPosition) {
    const std::string missing = "/nonexistent-vhostd-dir/site.toml";
    auto result = load_config_file(missing);
    const auto* errors = std::get_if<std::vector<ConfigError>>(&result);
    ASSERT_NE(errors, nullptr);
    ASSERT_EQ(errors->size(), 1u);
    EXPECT_EQ(errors->front().line, 0);
    EXPECT_EQ(errors->front().key_path, "");
    EXPECT_EQ(errors->front().to_string(), missing + ": cannot read file: No such file or directory");

    const std::string directory = fs::temp_directory_path().string();
    result = load_config_file(directory);
    errors = std::get_if<std::vector<ConfigError>>(&result);
    ASSERT_NE(errors, nullptr);
    ASSERT_EQ(errors->size(), 1u);
    EXPECT_EQ(errors->front().to_string(), directory + ": cannot read file: Is a directory");
}

TEST(LoadConfigFile, ReadsAFileAndAnchorsPathsAtItsDirectory) {
    std::string dir_template = (fs::temp_directory_path() / "vhostd-conf-XXXXXX").string();
    ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
    const fs::path dir = dir_template;
    const fs::path file = dir / "site.toml";
    std::ofstream(file) << "[[listen]]\naddress = \"127.0.0.1:8080\"\n"
                           "[sites.blog]\nhosts = [\"blog.example\"]\ncommand = [\"./blog\"]\nworkers = 0\n";

    const std::vector<std::string> expected_errors{file.string() +
                                                   ":6:11: sites.blog.workers: must be between 1 and 256"};
    auto result = load_config_file(file.string());
    const auto* errors = std::get_if<std::vector<ConfigError>>(&result);
    ASSERT_NE(errors, nullptr);
    std::vector<std::string> described;
    for (const ConfigError& error : *errors) {
        described.push_back(error.to_string());
    }
    EXPECT_EQ(described, expected_errors);

    std::ofstream(file) << "[[listen]]\naddress = \"127.0.0.1:8080\"\n"
                           "[sites.blog]\nhosts = [\"blog.example\"]\ncommand = [\"./blog\"]\n";
    const Config config = std::get<Config>(load_config_file(file.string()));
    EXPECT_EQ(config.path, file.string());
    ASSERT_EQ(config.sites.size(), 1u);
    EXPECT_EQ(config.sites[0].command, (std::vector<std::string>{(dir / "blog").string()}));
    EXPECT_EQ(config.sites[0].cwd, dir.string());

    fs::remove_all(dir);
}

TEST(LoadConfig, ProxyProtocolNeedsTrustedSources) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
proxy_protocol = true
proxy_from = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)");
    ASSERT_EQ(config.listeners.size(), 1u);
    EXPECT_TRUE(config.listeners[0].proxy_protocol);
    ASSERT_EQ(config.listeners[0].proxy_from.size(), 3u);
    const auto ten = parse_address_range("10.9.8.7/32");
    const auto other = parse_address_range("11.0.0.1");
    ASSERT_TRUE(ten && other);
    EXPECT_TRUE(config.listeners[0].proxy_from[0].contains(ten->network));
    EXPECT_FALSE(config.listeners[0].proxy_from[0].contains(other->network));
    EXPECT_TRUE(config.listeners[0].proxy_from[2].contains(parse_address_range("2001:db8:1::5")->network));
    EXPECT_FALSE(config.listeners[0].proxy_from[2].contains(parse_address_range("2001:db9::5")->network));

    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
proxy_protocol = true
[[listen]]
address = "127.0.0.1:8081"
proxy_from = ["10.0.0.0/33", "host.example", "::1/129"]
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (std::vector<std::string>{
                  "1:1: listen[0].proxy_from: is required with proxy_protocol = true: the load balancers' addresses",
                  "6:14: listen[1].proxy_from: needs proxy_protocol = true",
                  "6:15: listen[1].proxy_from[0]: must be an IP address or a range like \"10.0.0.0/8\"",
                  "6:30: listen[1].proxy_from[1]: must be an IP address or a range like \"10.0.0.0/8\"",
                  "6:46: listen[1].proxy_from[2]: must be an IP address or a range like \"10.0.0.0/8\"",
              }));
}

TEST(LoadConfig, CapsOnSlowClients) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[server]
max_waiting_heads = 500
max_waiting_heads_per_ip = 20
max_connections_per_ip = 40
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

TEST(LoadConfig, TlsKeysAndTheirErrors) {
    // Missing files are reported with the path as resolved against the config's directory.
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8443"
tls = true
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
tls = { cert = "certs/blog.pem", key = "/nonexistent/blog.key", ca = "x" }
tls_mode = "terminate"
)"),
              (std::vector<std::string>{
                  "7:16: sites.blog.tls.cert: cannot read \"/tmp/x/certs/blog.pem\": No such file or directory",
                  "7:40: sites.blog.tls.key: cannot read \"/nonexistent/blog.key\": No such file or directory",
                  "7:65: sites.blog.tls.ca: unknown key",
              }));
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
tls = []
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
tls = [{ cert = "" }]
tls_mode = "relay"
https_redirect = true
)"),
              (std::vector<std::string>{
                  "6:7: sites.blog.tls: must be a table { cert = \"…\", key = \"…\" } or a non-empty array of them",
                  "10:8: sites.shop.tls[0].key: is required",
                  "10:17: sites.shop.tls[0].cert: must not be empty",
                  "11:12: sites.shop.tls_mode: must be \"terminate\" or \"passthrough\"",
                  "12:18: sites.shop.https_redirect: needs a [[listen]] with tls = true to redirect to",
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

TEST(LoadConfig, AdminEndpointIsNeverAPublicListener) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "0.0.0.0:8080"
[admin]
listen = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (Errors{"4:10: admin.listen: must not be the address of a public listener (0.0.0.0:8080)"}));
    const Config other_port = load_valid(R"([[listen]]
address = "0.0.0.0:8080"
[admin]
listen = "127.0.0.1:9180"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)");
    EXPECT_TRUE(other_port.admin);
}

TEST(LoadConfig, AdminTokenFileResolvesAgainstTheConfigDir) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[admin]
listen = "127.0.0.1:9180"
token_file = "secrets/admin.token"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)");
    ASSERT_TRUE(config.admin);
    EXPECT_EQ(config.admin->token_file, "/tmp/x/secrets/admin.token");
}

TEST(LoadConfig, RestartBackoffMaxMustNotBeBelowInitial) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
restart_backoff = { initial = "2s", max = "1s", step = 2 }
)"),
              (Errors{
                  "6:43: sites.blog.restart_backoff.max: must not be less than initial",
                  "6:49: sites.blog.restart_backoff.step: unknown key",
              }));
}

TEST(LoadConfig, StaticAndUpstreamBecomeTheBundledWorkers) {
    const fs::path root = fs::temp_directory_path() / "vhostd-loader-static";
    fs::create_directories(root / "public");
    const std::string path = (root / "site.toml").string();
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.docs]
hosts = ["docs.example"]
static = "public/"
[sites.legacy]
hosts = ["legacy.example"]
upstream = ["bin/app", "--port", "$PORT"]
)", path);
    ASSERT_EQ(config.sites.size(), 2u);
    EXPECT_EQ(config.sites[0].command, (std::vector<std::string>{"vhostd-static", "--root", (root / "public").string()}));
    EXPECT_EQ(config.sites[1].command,
              (std::vector<std::string>{"vhostd-upstream", "--", (root / "bin/app").string(), "--port", "$PORT"}));
    EXPECT_EQ(config.sites[1].runtime, Runtime::native);
    fs::remove_all(root);
}

TEST(LoadConfig, RuntimeIsNodeWhenGivenOrWhenTheProgramIsNode) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.a]
hosts = ["a.example"]
command = ["node", "server.js"]
[sites.b]
hosts = ["b.example"]
command = ["/usr/bin/nodejs", "server.js"]
[sites.c]
hosts = ["c.example"]
command = ["./start.sh"]
runtime = "node"
[sites.d]
hosts = ["d.example"]
command = ["node", "server.js"]
runtime = "native"
[sites.e]
hosts = ["e.example"]
command = ["python3", "app.py"]
)");
    ASSERT_EQ(config.sites.size(), 5u);
    EXPECT_EQ(config.sites[0].runtime, Runtime::node);
    EXPECT_EQ(config.sites[1].runtime, Runtime::node);
    EXPECT_EQ(config.sites[2].runtime, Runtime::node);
    EXPECT_EQ(config.sites[3].runtime, Runtime::native);
    EXPECT_EQ(config.sites[4].runtime, Runtime::native);
}

TEST(LoadConfig, ReportsConflictingProgramsAndBadRuntimes) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.a]
hosts = ["a.example"]
command = ["x"]
upstream = ["y"]
runtime = "java"
[sites.b]
hosts = ["b.example"]
static = "/nonexistent/vhostd-root"
[sites.c]
hosts = ["c.example"]
static = "/tmp"
runtime = "node"
tls_mode = "passthrough"
)"),
              (Errors{
                  "3:1: sites.a: command, static and upstream are alternatives: give one of them",
                  "7:11: sites.a.runtime: must be \"node\" or \"native\"",
                  "10:10: sites.b.static: '/nonexistent/vhostd-root' is not a directory",
                  "14:11: sites.c.runtime: applies to command only: static and upstream run vhostd's own workers",
                  "15:12: sites.c.tls_mode: must be \"terminate\" for a static site: vhostd-static does not terminate TLS",
              }));
}

TEST(LoadConfig, ReadsTheSingletonAndTasks) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.app]
hosts = ["app.example"]
command = ["node", "server.js"]
env = { A = "1" }
[sites.app.singleton]
command = ["node", "agent.js"]
env = { B = "2" }
start_timeout = "5s"
restart_backoff = { initial = "2s", max = "30s" }
[[sites.app.tasks]]
name = "purge"
every = "5m"
[[sites.app.tasks]]
name = "report"
cron = "0 9 * * 1-5"
to = "singleton"
)");
    ASSERT_EQ(config.sites.size(), 1u);
    const Site& site = config.sites[0];
    ASSERT_TRUE(site.singleton);
    EXPECT_EQ(site.singleton->command, (std::vector<std::string>{"node", "agent.js"}));
    EXPECT_EQ(site.singleton->runtime, Runtime::node);
    EXPECT_EQ(site.singleton->env, (std::map<std::string, std::string>{{"B", "2"}}));
    EXPECT_EQ(site.singleton->start_timeout, 5s);
    EXPECT_EQ(site.singleton->restart_backoff.initial, 2s);
    ASSERT_EQ(site.tasks.size(), 2u);
    EXPECT_EQ(site.tasks[0].name, "purge");
    EXPECT_EQ(site.tasks[0].every, 5min);
    EXPECT_EQ(site.tasks[0].to, Task::Target::worker);
    ASSERT_TRUE(site.tasks[1].cron);
    EXPECT_EQ(site.tasks[1].cron->text(), "0 9 * * 1-5");
    EXPECT_EQ(site.tasks[1].to, Task::Target::singleton);
}

TEST(LoadConfig, ReportsBadSingletonsAndTasks) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.a]
hosts = ["a.example"]
command = ["x"]
[sites.a.singleton]
cmd = ["y"]
[[sites.a.tasks]]
every = "1s"
cron = "* * * * *"
[[sites.a.tasks]]
name = "t"
cron = "61 * * * *"
to = "everyone"
[sites.b]
hosts = ["b.example"]
command = ["x"]
[[sites.b.tasks]]
name = "t"
every = "1s"
to = "singleton"
)"),
              (Errors{
                  "6:1: sites.a.singleton.command: is required",
                  "7:1: sites.a.singleton.cmd: unknown key",
                  "8:1: sites.a.tasks[0].name: is required",
                  "8:1: sites.a.tasks[0]: needs exactly one of every = \"DURATION\" and cron = \"EXPRESSION\"",
                  "13:8: sites.a.tasks[1].cron: bad minute (0-59) field",
                  "14:6: sites.a.tasks[1].to: must be \"worker\" or \"singleton\"",
                  "18:1: sites.b.tasks[0].to: names the singleton, but the site has no [singleton]",
              }));
}

}  // namespace
}  // namespace vhostd::conf
