// The tables inside [sites.NAME] (conf/site_tables.cpp): restart_limit, restart_backoff,
// limits, tls, singleton, tasks and affinity.
#include "tests/unit/conf/load_helpers.hpp"

#include <gtest/gtest.h>

namespace vhostd::conf {
namespace {

using namespace std::chrono_literals;

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

TEST(LoadConfig, ReadsCronRestart) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.api]
hosts = ["api.example"]
command = ["./api"]
cron_restart = "0 3 * * *"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)");
    ASSERT_EQ(config.sites.size(), 2u);
    ASSERT_TRUE(config.sites[0].cron_restart);
    EXPECT_EQ(config.sites[0].cron_restart->text(), "0 3 * * *");
    EXPECT_FALSE(config.sites[1].cron_restart);
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.api]
hosts = ["api.example"]
command = ["./api"]
cron_restart = "0 25 * * *"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
cron_restart = 3
)").size(), 2u);
}

TEST(LoadConfig, ReadsAffinity) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.chat]
hosts = ["chat.example"]
command = ["./chat"]
affinity = { cookie = "io" }
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
affinity = "client"
[sites.wiki]
hosts = ["wiki.example"]
command = ["./wiki"]
affinity = "none"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)");
    ASSERT_EQ(config.sites.size(), 4u);
    EXPECT_EQ(config.sites[0].affinity, (Affinity{.by = Affinity::By::cookie, .cookie = "io"}));
    EXPECT_EQ(config.sites[1].affinity, (Affinity{.by = Affinity::By::client, .cookie = {}}));
    EXPECT_EQ(config.sites[2].affinity, Affinity{});
    EXPECT_EQ(config.sites[3].affinity, Affinity{});
}

TEST(LoadConfig, ReportsBadAffinity) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.a]
hosts = ["a.example"]
command = ["./a"]
affinity = "cookie"
[sites.b]
hosts = ["b.example"]
command = ["./b"]
affinity = "ip_hash"
[sites.c]
hosts = ["c.example"]
command = ["./c"]
affinity = true
[sites.d]
hosts = ["d.example"]
command = ["./d"]
affinity = { cookie = "session id" }
[sites.e]
hosts = ["e.example"]
command = ["./e"]
affinity = { name = "io" }
[sites.f]
hosts = ["f.example"]
command = ["./f"]
affinity = { cookie = "" }
)"),
              (std::vector<std::string>{
                  "6:12: sites.a.affinity: names no cookie: write affinity = { cookie = \"NAME\" }",
                  "10:12: sites.b.affinity: must be \"none\", \"client\" or { cookie = \"NAME\" }",
                  "14:12: sites.c.affinity: must be \"none\", \"client\" or { cookie = \"NAME\" }",
                  "18:23: sites.d.affinity.cookie: must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)",
                  "22:12: sites.e.affinity.cookie: is required",
                  "22:14: sites.e.affinity.name: unknown key",
                  "26:23: sites.f.affinity.cookie: must not be empty",
              }));
}

}  // namespace
}  // namespace vhostd::conf
