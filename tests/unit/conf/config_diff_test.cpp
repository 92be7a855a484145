#include "conf/config_diff.hpp"

#include "conf/loader.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace vhostd::conf {
namespace {

using namespace std::chrono_literals;
using Names = std::vector<std::string>;

Site site(std::string name) {
    Site made;
    made.hosts = {name + ".example"};
    made.command = {"/srv/" + name + "/run"};
    made.cwd = "/srv/" + name;
    made.name = std::move(name);
    return made;
}

Listener listener(std::string host, std::uint16_t port, bool tls = false) {
    const std::string address = (host.find(':') == std::string::npos ? host : "[" + host + "]") + ":" +
                                std::to_string(port);
    return Listener{address, Endpoint{std::move(host), port}, tls, false, {}};
}

Config config_with(std::vector<Site> sites) {
    Config config;
    config.path = "/etc/vhostd/vhostd.toml";
    config.listeners = {listener("0.0.0.0", 8080)};
    config.sites = std::move(sites);
    return config;
}

// "host:port" and tls of each listener, enough to tell them apart in a failure message.
std::vector<std::string> sockets(const std::vector<Listener>& listeners) {
    std::vector<std::string> described;
    for (const Listener& each : listeners) {
        described.push_back(each.address + (each.tls ? " tls" : ""));
    }
    return described;
}

TEST(DiffConfigs, IdenticalConfigsGiveAnEmptyDiff) {
    const Config config = config_with({site("blog"), site("shop")});
    const ConfigDiff diff = diff_configs(config, config);
    EXPECT_TRUE(diff.empty());
    EXPECT_TRUE(diff.added_sites.empty());
    EXPECT_TRUE(diff.removed_sites.empty());
    EXPECT_TRUE(diff.restarted_sites.empty());
    EXPECT_TRUE(diff.updated_sites.empty());
    EXPECT_TRUE(diff.added_listeners.empty());
    EXPECT_TRUE(diff.removed_listeners.empty());
    EXPECT_FALSE(diff.server_changed);
    EXPECT_FALSE(diff.admin_changed);
}

TEST(DiffConfigs, EmptyIsFalseWhenAnyPartChanged) {
    const std::vector<std::function<void(ConfigDiff&)>> changes = {
        [](ConfigDiff& d) { d.added_sites = {"a"}; },
        [](ConfigDiff& d) { d.removed_sites = {"a"}; },
        [](ConfigDiff& d) { d.restarted_sites = {"a"}; },
        [](ConfigDiff& d) { d.updated_sites = {"a"}; },
        [](ConfigDiff& d) { d.added_listeners = {listener("0.0.0.0", 80)}; },
        [](ConfigDiff& d) { d.removed_listeners = {listener("0.0.0.0", 80)}; },
        [](ConfigDiff& d) { d.server_changed = true; },
        [](ConfigDiff& d) { d.admin_changed = true; },
    };
    EXPECT_TRUE(ConfigDiff{}.empty());
    for (std::size_t index = 0; index < changes.size(); ++index) {
        ConfigDiff diff;
        changes[index](diff);
        EXPECT_FALSE(diff.empty()) << "change " << index;
    }
}

TEST(DiffConfigs, ListsAddedSitesInTheNewOrderAndRemovedInTheOld) {
    const Config before = config_with({site("zeta"), site("keep"), site("alpha")});
    const Config after = config_with({site("omega"), site("keep"), site("beta")});
    const ConfigDiff diff = diff_configs(before, after);
    EXPECT_EQ(diff.added_sites, (Names{"omega", "beta"}));
    EXPECT_EQ(diff.removed_sites, (Names{"zeta", "alpha"}));
    EXPECT_TRUE(diff.restarted_sites.empty());
    EXPECT_TRUE(diff.updated_sites.empty());
    EXPECT_FALSE(diff.empty());
}

TEST(DiffConfigs, ReorderingSitesAloneIsNoChange) {
    const ConfigDiff diff = diff_configs(config_with({site("a"), site("b")}), config_with({site("b"), site("a")}));
    EXPECT_TRUE(diff.empty());
}

// One setting of a site changed, and whether that needs new worker processes.
struct SiteChange {
    const char* setting;
    std::function<void(Site&)> apply;
    bool restarts;
};

const std::vector<SiteChange> site_changes = {
    {"command", [](Site& s) { s.command.push_back("--verbose"); }, true},
    {"cwd", [](Site& s) { s.cwd = "/srv/elsewhere"; }, true},
    {"env added", [](Site& s) { s.env["MODE"] = "prod"; }, true},
    {"user", [](Site& s) { s.user = "www"; }, true},
    {"group", [](Site& s) { s.group = "www"; }, true},
    {"limits.open_files", [](Site& s) { s.limits.open_files = 1024; }, true},
    {"limits.address_space", [](Site& s) { s.limits.address_space = 1u << 30; }, true},
    {"heartbeat_timeout", [](Site& s) { s.heartbeat_timeout = 2s; }, true},
    {"hosts", [](Site& s) { s.hosts.push_back("www.example"); }, false},
    {"is_default", [](Site& s) { s.is_default = true; }, false},
    {"min_workers", [](Site& s) { s.min_workers = 0; }, false},
    {"max_workers", [](Site& s) { s.max_workers = 4; }, false},
    {"idle_timeout", [](Site& s) { s.idle_timeout = 5s; }, false},
    {"max_age", [](Site& s) { s.max_age = 0s; }, false},
    {"max_memory", [](Site& s) { s.max_memory = 1u << 20; }, false},
    {"max_requests", [](Site& s) { s.max_requests = 100; }, false},
    {"start_timeout", [](Site& s) { s.start_timeout = 1s; }, false},
    {"drain_timeout", [](Site& s) { s.drain_timeout = 1s; }, false},
    {"kill_timeout", [](Site& s) { s.kill_timeout = 1s; }, false},
    {"restart_limit.count", [](Site& s) { s.restart_limit.count = 2; }, false},
    {"restart_limit.window", [](Site& s) { s.restart_limit.window = 1s; }, false},
    {"restart_limit.cooldown", [](Site& s) { s.restart_limit.cooldown = 1s; }, false},
    {"max_in_flight", [](Site& s) { s.max_in_flight = 1; }, false},
    {"queue_size", [](Site& s) { s.queue_size = 0; }, false},
    {"queue_timeout", [](Site& s) { s.queue_timeout = 1s; }, false},
    // The front reads a terminate site's certificates; a passthrough site's workers do.
    {"certificates (terminate)", [](Site& s) { s.certificates.push_back({"/etc/ssl/a.pem", "/etc/ssl/a.key"}); }, false},
    {"https_redirect", [](Site& s) { s.https_redirect = true; }, false},
    {"tls_mode", [](Site& s) { s.tls_mode = TlsMode::passthrough; }, true},
};

TEST(DiffConfigs, PassthroughCertificatePathsRestartTheWorkers) {
    Site before = site("blog");
    before.tls_mode = TlsMode::passthrough;
    before.certificates = {{"/etc/ssl/a.pem", "/etc/ssl/a.key"}};
    Site after = before;
    after.certificates.push_back({"/etc/ssl/b.pem", "/etc/ssl/b.key"});
    EXPECT_EQ(diff_configs(config_with({before}), config_with({after})).restarted_sites, Names{"blog"});
}

TEST(DiffConfigs, SortsEachSiteSettingIntoRestartedOrUpdated) {
    for (const SiteChange& change : site_changes) {
        Site changed = site("blog");
        change.apply(changed);
        const ConfigDiff diff = diff_configs(config_with({site("blog")}), config_with({changed}));
        EXPECT_EQ(diff.restarted_sites, change.restarts ? Names{"blog"} : Names{}) << change.setting;
        EXPECT_EQ(diff.updated_sites, change.restarts ? Names{} : Names{"blog"}) << change.setting;
        EXPECT_TRUE(diff.added_sites.empty() && diff.removed_sites.empty()) << change.setting;
        EXPECT_FALSE(diff.server_changed || diff.admin_changed) << change.setting;
    }
}

TEST(DiffConfigs, EnvironmentValueChangesAndRemovalsRestart) {
    Site before = site("blog");
    before.env = {{"A", "1"}, {"B", "2"}};
    Site new_value = before;
    new_value.env["A"] = "3";
    Site removed = before;
    removed.env.erase("B");
    EXPECT_EQ(diff_configs(config_with({before}), config_with({new_value})).restarted_sites, Names{"blog"});
    EXPECT_EQ(diff_configs(config_with({before}), config_with({removed})).restarted_sites, Names{"blog"});
}

TEST(DiffConfigs, ASiteRestartedWithOtherChangesIsOnlyRestarted) {
    Site changed = site("blog");
    changed.command = {"/srv/blog/run-v2"};
    changed.max_workers = 8;
    changed.hosts = {"new.example"};
    const ConfigDiff diff = diff_configs(config_with({site("blog")}), config_with({changed}));
    EXPECT_EQ(diff.restarted_sites, Names{"blog"});
    EXPECT_TRUE(diff.updated_sites.empty());
}

TEST(DiffConfigs, KeepsTheNewOrderForRestartedAndUpdatedSites) {
    const std::vector<std::string> names = {"a", "b", "c", "d"};
    std::vector<Site> before;
    for (const auto& name : names) {
        before.push_back(site(name));
    }
    // New order d, c, b, a; d and b need new processes, c and a do not.
    std::vector<Site> after(before.rbegin(), before.rend());
    after[0].user = "www";
    after[1].queue_size = 1;
    after[2].cwd = "/tmp";
    after[3].max_age = 2h;
    const ConfigDiff diff = diff_configs(config_with(before), config_with(after));
    EXPECT_EQ(diff.restarted_sites, (Names{"d", "b"}));
    EXPECT_EQ(diff.updated_sites, (Names{"c", "a"}));
}

TEST(DiffConfigs, MatchesListenersByEndpointAndTls) {
    Config before = config_with({site("blog")});
    Config after = before;
    before.listeners = {listener("0.0.0.0", 80), listener("0.0.0.0", 443, true), listener("127.0.0.1", 8080)};
    after.listeners = {listener("0.0.0.0", 443), listener("0.0.0.0", 80), listener("127.0.0.1", 8081),
                       listener("::", 80)};
    const ConfigDiff diff = diff_configs(before, after);
    EXPECT_EQ(sockets(diff.added_listeners), (Names{"0.0.0.0:443", "127.0.0.1:8081", "[::]:80"}));
    EXPECT_EQ(sockets(diff.removed_listeners), (Names{"0.0.0.0:443 tls", "127.0.0.1:8080"}));
    EXPECT_FALSE(diff.server_changed);
    EXPECT_TRUE(diff.restarted_sites.empty() && diff.updated_sites.empty());
}

TEST(DiffConfigs, ReorderedOrRespelledListenersAreNoChange) {
    Config before = config_with({site("blog")});
    Config after = before;
    before.listeners = {listener("0.0.0.0", 80), listener("::1", 8443, true)};
    after.listeners = {listener("0:0::0001", 8443, true), listener("0.0.0.0", 80)};
    EXPECT_TRUE(diff_configs(before, after).empty());
}

TEST(DiffConfigs, MatchesEachListenerOnce) {
    Config before = config_with({site("blog")});
    Config after = before;
    before.listeners = {listener("0.0.0.0", 80)};
    after.listeners = {listener("0.0.0.0", 80), listener("0.0.0.0", 80)};
    EXPECT_EQ(sockets(diff_configs(before, after).added_listeners), (Names{"0.0.0.0:80"}));
    EXPECT_EQ(sockets(diff_configs(after, before).removed_listeners), (Names{"0.0.0.0:80"}));
}

TEST(DiffConfigs, ReportsServerAndAdminChanges) {
    const Config before = config_with({site("blog")});

    Config server = before;
    server.server.log_files = 9;
    EXPECT_TRUE(diff_configs(before, server).server_changed);
    EXPECT_FALSE(diff_configs(before, server).admin_changed);

    Config with_admin = before;
    with_admin.admin = AdminSettings{"127.0.0.1:9180", Endpoint{"127.0.0.1", 9180}, ""};
    EXPECT_TRUE(diff_configs(before, with_admin).admin_changed);
    EXPECT_TRUE(diff_configs(with_admin, before).admin_changed);
    EXPECT_FALSE(diff_configs(with_admin, with_admin).admin_changed);

    Config moved_admin = with_admin;
    moved_admin.admin->endpoint.port = 9181;
    moved_admin.admin->address = "127.0.0.1:9181";
    const ConfigDiff diff = diff_configs(with_admin, moved_admin);
    EXPECT_TRUE(diff.admin_changed);
    EXPECT_FALSE(diff.server_changed);
    EXPECT_TRUE(diff.restarted_sites.empty() && diff.updated_sites.empty());
}

TEST(DiffConfigs, WorksOnLoadedFiles) {
    const auto load = [](std::string_view text) { return std::get<Config>(load_config_string(text, "/tmp/x/site.toml")); };
    const Config before = load(R"([[listen]]
address = "127.0.0.1:8080"
[server]
threads = 2
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
workers = 2
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
[sites.old]
hosts = ["old.example"]
command = ["./old"]
)");
    const Config after = load(R"([[listen]]
address = "127.0.0.1:8080"
[[listen]]
address = "127.0.0.1:8443"
tls = true
[server]
threads = 2
log_dir = "logs"
[sites.new]
hosts = ["new.example"]
command = ["./new"]
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
limits = { open_files = 4096 }
[sites.blog]
hosts = ["blog.example", "www.blog.example"]
command = ["./blog"]
min_workers = 2
max_workers = 6
)");
    const ConfigDiff diff = diff_configs(before, after);
    EXPECT_EQ(diff.added_sites, Names{"new"});
    EXPECT_EQ(diff.removed_sites, Names{"old"});
    EXPECT_EQ(diff.restarted_sites, Names{"shop"});
    EXPECT_EQ(diff.updated_sites, Names{"blog"});
    EXPECT_EQ(sockets(diff.added_listeners), Names{"127.0.0.1:8443 tls"});
    EXPECT_TRUE(diff.removed_listeners.empty());
    EXPECT_TRUE(diff.server_changed);
    EXPECT_FALSE(diff.admin_changed);

    EXPECT_TRUE(diff_configs(after, load(R"([[listen]]
address = "127.0.0.1:8443"
tls = true
[[listen]]
address = "127.0.0.1:8080"
[server]
threads = 2
log_dir = "./logs/"
[sites.new]
hosts = ["new.example"]
command = ["./new"]
[sites.blog]
hosts = ["Blog.Example", "www.blog.example."]
command = ["./blog"]
max_workers = 6
min_workers = 2
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
limits = { open_files = 4096 }
)"))
                    .empty());
}

}  // namespace
}  // namespace vhostd::conf
