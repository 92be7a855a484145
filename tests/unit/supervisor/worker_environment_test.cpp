#include "supervisor/worker_environment.hpp"

#include "protocol/environment.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

using namespace vhostd;
using namespace vhostd::supervisor;
using namespace std::chrono_literals;

namespace {

conf::Site site() {
    conf::Site s;
    s.name = "shop";
    s.command = {"./app"};
    s.env = {{"MODE", "site"}, {"PATH", "/site/bin"}};
    return s;
}

// The value of NAME in "NAME=value" entries; "<unset>" when absent.
std::string value_of(const std::vector<std::string>& environment, const std::string& name) {
    for (const std::string& entry : environment) {
        if (entry.starts_with(name + "=")) return entry.substr(name.size() + 1);
    }
    return "<unset>";
}

}  // namespace

TEST(WorkerEnvironment, SiteEnvGoesOverTheBaseAndVhostdsOverBoth) {
    const EnvironmentVariables base{{"HOME", "/root"}, {"PATH", "/usr/bin"}, {protocol::env_site, "spoofed"}};
    const auto env = worker_environment(site(), {.slot = 2, .generation = 7, .singleton = false}, base);
    EXPECT_TRUE(std::is_sorted(env.begin(), env.end()));
    EXPECT_EQ(value_of(env, "HOME"), "/root");
    EXPECT_EQ(value_of(env, "PATH"), "/site/bin");
    EXPECT_EQ(value_of(env, "MODE"), "site");
    EXPECT_EQ(value_of(env, protocol::env_site), "shop");
    EXPECT_EQ(value_of(env, protocol::env_worker_slot), "2");
    EXPECT_EQ(value_of(env, protocol::env_generation), "7");
    EXPECT_EQ(value_of(env, protocol::env_role), "worker");
    EXPECT_EQ(value_of(env, protocol::env_channel_fd), "3");
    EXPECT_EQ(value_of(env, protocol::env_protocol_version), protocol::protocol_version);
    EXPECT_EQ(value_of(env, "NODE_CHANNEL_FD"), "<unset>");
    EXPECT_EQ(value_of(env, protocol::env_tls_certs), "<unset>");
}

TEST(WorkerEnvironment, CarriesTheFrontsHeadLimits) {
    const auto defaults = worker_environment(site(), {}, {});
    EXPECT_EQ(value_of(defaults, protocol::env_max_head_size), "16384");
    EXPECT_EQ(value_of(defaults, protocol::env_max_header_fields), "100");
    const auto raised = worker_environment(site(), {}, {}, {.max_head_size = 65536, .max_header_fields = 300});
    EXPECT_EQ(value_of(raised, protocol::env_max_head_size), "65536");
    EXPECT_EQ(value_of(raised, protocol::env_max_header_fields), "300");
}

TEST(WorkerEnvironment, HeartbeatIntervalIsAThirdOfTheTimeoutWithinBounds) {
    conf::Site s = site();
    s.heartbeat_timeout = 1500ms;
    EXPECT_EQ(value_of(worker_environment(s, {}, {}), protocol::env_heartbeat_interval_ms), "500");
    s.heartbeat_timeout = 90ms;
    EXPECT_EQ(value_of(worker_environment(s, {}, {}), protocol::env_heartbeat_interval_ms), "100");
    s.heartbeat_timeout = 60s;
    EXPECT_EQ(value_of(worker_environment(s, {}, {}), protocol::env_heartbeat_interval_ms), "1000");
}

TEST(WorkerEnvironment, TheSingletonGetsItsOwnEnvAndRuntime) {
    conf::Site s = site();
    s.singleton.emplace();
    s.singleton->command = {"node", "singleton.js"};
    s.singleton->runtime = conf::Runtime::node;
    s.singleton->env = {{"MODE", "singleton"}};
    const auto singleton = worker_environment(s, {.slot = 0, .generation = 1, .singleton = true}, {});
    EXPECT_EQ(value_of(singleton, "MODE"), "singleton");
    EXPECT_EQ(value_of(singleton, protocol::env_role), "singleton");
    EXPECT_EQ(value_of(singleton, "NODE_CHANNEL_FD"), "3");
    EXPECT_EQ(value_of(singleton, "NODE_CHANNEL_SERIALIZATION_MODE"), "json");
    // The site's workers keep the site's env and runtime.
    const auto worker = worker_environment(s, {.slot = 0, .generation = 1, .singleton = false}, {});
    EXPECT_EQ(value_of(worker, "MODE"), "site");
    EXPECT_EQ(value_of(worker, "NODE_CHANNEL_FD"), "<unset>");
}

TEST(WorkerEnvironment, OnlyPassthroughSitesLearnTheirKeys) {
    conf::Site s = site();
    s.certificates = {{"/etc/a.crt", "/etc/a.key"}, {"/etc/b.crt", "/etc/b.key"}};
    EXPECT_EQ(value_of(worker_environment(s, {}, {}), protocol::env_tls_certs), "<unset>");
    s.tls_mode = conf::TlsMode::passthrough;
    const auto env = worker_environment(s, {}, {});
    EXPECT_EQ(value_of(env, protocol::env_tls_certs), "/etc/a.crt:/etc/b.crt");
    EXPECT_EQ(value_of(env, protocol::env_tls_keys), "/etc/a.key:/etc/b.key");
}

TEST(WorkerEnvironment, PassthroughWorkersShareTheSitesTicketKey) {
    conf::Site s = site();
    s.certificates = {{"/etc/a.crt", "/etc/a.key"}};
    const std::string key = new_tls_ticket_key();
    EXPECT_EQ(key.size(), 2 * protocol::tls_ticket_key_bytes);
    EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(key, new_tls_ticket_key());
    EXPECT_EQ(value_of(worker_environment(s, {}, {}, {}, key), protocol::env_tls_ticket_key), "<unset>") << "a terminated site's workers";
    s.tls_mode = conf::TlsMode::passthrough;
    EXPECT_EQ(value_of(worker_environment(s, {.slot = 0}, {}, {}, key), protocol::env_tls_ticket_key), key);
    EXPECT_EQ(value_of(worker_environment(s, {.slot = 1}, {}, {}, key), protocol::env_tls_ticket_key), key);
}

TEST(WorkerEnvironment, InheritedEnvironmentReadsVhostdsOwn) {
    ::setenv("VHOSTD_WORKER_ENVIRONMENT_TEST", "a=b", 1);
    const EnvironmentVariables inherited = inherited_environment();
    ASSERT_TRUE(inherited.contains("VHOSTD_WORKER_ENVIRONMENT_TEST"));
    EXPECT_EQ(inherited.at("VHOSTD_WORKER_ENVIRONMENT_TEST"), "a=b");
    ::unsetenv("VHOSTD_WORKER_ENVIRONMENT_TEST");
}
