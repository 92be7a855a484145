// The loader as a whole: a full example, every default, errors in file order across
// sections, syntax errors, missing sections, and reading a file from disk.
#include "tests/unit/conf/load_helpers.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace vhostd::conf {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

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

}  // namespace
}  // namespace vhostd::conf
