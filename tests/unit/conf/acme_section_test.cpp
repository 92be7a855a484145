// [acme] and tls = "auto" (conf/acme_section.cpp, conf/site_section.cpp): the settings, and
// the sites ACME cannot serve refused with their position.
#include "tests/unit/conf/load_helpers.hpp"

#include <gtest/gtest.h>

namespace vhostd::conf {
namespace {

const std::string listeners = R"([[listen]]
address = "127.0.0.1:8080"
[[listen]]
address = "127.0.0.1:8443"
tls = true
)";

TEST(LoadConfig, AutoTlsSiteWithDefaults) {
    const Config config = load_valid(listeners + R"([sites.shop]
hosts = ["shop.example", "www.shop.example"]
command = ["./shop"]
tls = "auto"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
tls = { acme = true }
https_redirect = false
)");
    ASSERT_EQ(config.sites.size(), 2u);
    EXPECT_TRUE(config.sites[0].acme);
    EXPECT_TRUE(config.sites[0].https_redirect) << "auto sites redirect plain HTTP by default";
    EXPECT_TRUE(config.sites[0].certificates.empty());
    EXPECT_TRUE(config.sites[1].acme);
    EXPECT_FALSE(config.sites[1].https_redirect) << "unless they say otherwise";
    EXPECT_EQ(config.acme, AcmeSettings{});
    EXPECT_EQ(config.acme.directory, "https://acme-v02.api.letsencrypt.org/directory");
}

TEST(LoadConfig, AcmeSettingsAreRead) {
    const Config config = load_valid(listeners + R"([acme]
directory = "https://localhost:14000/dir"
email = "ops@example.com"
state_dir = "acme-state"
ca_bundle = "pebble.minica.pem"
challenges = ["tls-alpn-01"]
renew_percent_left = 50
retry_initial = "5s"
retry_max = "10m"
order_timeout = "1m"
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
tls = "auto"
)");
    EXPECT_EQ(config.acme.directory, "https://localhost:14000/dir");
    EXPECT_EQ(config.acme.email, "ops@example.com");
    EXPECT_EQ(config.acme.state_dir, "/tmp/x/acme-state");
    EXPECT_EQ(config.acme.ca_bundle, "/tmp/x/pebble.minica.pem");
    EXPECT_EQ(config.acme.challenges, std::vector<AcmeChallenge>{AcmeChallenge::tls_alpn01});
    EXPECT_EQ(config.acme.renew_percent_left, 50u);
    EXPECT_EQ(config.acme.retry_initial, std::chrono::seconds(5));
    EXPECT_EQ(config.acme.retry_max, std::chrono::minutes(10));
    EXPECT_EQ(config.acme.order_timeout, std::chrono::minutes(1));
}

TEST(LoadConfig, BadAcmeValuesAreErrorsAtTheirPosition) {
    EXPECT_EQ(load_errors(listeners + R"([acme]
directory = "http://ca.example/dir"
email = "not an address"
challenges = ["dns-01", "http-01", "http-01"]
renew_percent_left = 95
colour = "blue"
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
)"),
              (Errors{"7:13: acme.directory: must be an https:// URL, like \"https://acme-v02.api.letsencrypt.org/directory\"",
                      "8:9: acme.email: must be one e-mail address, like \"ops@example.com\"",
                      "9:15: acme.challenges[0]: must be \"http-01\" or \"tls-alpn-01\" (DNS-01 is not supported)",
                      "9:36: acme.challenges[2]: \"http-01\" is listed twice",
                      "10:22: acme.renew_percent_left: must be between 1 and 90",
                      "11:1: acme.colour: unknown key"}));
}

TEST(LoadConfig, AutoTlsNeedsExactNamesAndATlsListener) {
    const Errors wildcard = load_errors(listeners + R"([sites.blog]
hosts = ["blog.example", "*.blog.example"]
command = ["./blog"]
tls = "auto"
)");
    ASSERT_EQ(wildcard.size(), 1u);
    EXPECT_NE(wildcard[0].find("9:7: sites.blog.tls: \"auto\" gets certificates for exact host names, and \"*.blog.example\" is a "
                               "wildcard (that needs DNS-01"),
              std::string::npos)
        << wildcard[0];
    const Errors address = load_errors(listeners + R"([sites.blog]
hosts = ["192.0.2.7"]
command = ["./blog"]
tls = "auto"
)");
    ASSERT_EQ(address.size(), 1u);
    EXPECT_NE(address[0].find("\"192.0.2.7\" is an address"), std::string::npos) << address[0];
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
tls = "auto"
)"),
              (Errors{"6:7: sites.blog.tls: \"auto\" needs a [[listen]] with tls = true"}));
    EXPECT_EQ(load_errors(listeners + R"([sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
tls = "yes"
)"),
              (Errors{"9:7: sites.blog.tls: must be \"auto\", a table { cert = \"…\", key = \"…\" } or an array of them"}));
    EXPECT_EQ(load_errors(listeners + R"([sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
tls = { acme = true, cert = "a.pem" }
)"),
              (Errors{"9:7: sites.blog.tls: { acme = true } takes no other keys: certificates come from [acme] or from cert and key"}));
}

TEST(LoadConfig, AutoTlsNeedsAChallengeAListenerCanAnswer) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8443"
tls = true
[acme]
challenges = ["http-01"]
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
tls = "auto"
)"),
              (Errors{"5:14: acme.challenges: none can be answered: http-01 needs a [[listen]] without tls, tls-alpn-01 one with tls = true"}));
}

TEST(LoadConfig, OnDemandSitesMayMatchPatternsAndTheDefault) {
    const Config config = load_valid(listeners + R"([sites.customers]
hosts = ["*.customers.example", "panel.example"]
command = ["./panel"]
tls = "auto"
on_demand = { ask = "http://127.0.0.1:9123/allowed" }
[sites.rest]
default = true
command = ["./rest"]
tls = "auto"
on_demand = { allow_file = "/dev/null" }
)");
    ASSERT_TRUE(config.sites[0].on_demand);
    EXPECT_EQ(config.sites[0].on_demand->ask, "http://127.0.0.1:9123/allowed");
    ASSERT_TRUE(config.sites[1].on_demand);
    EXPECT_EQ(config.sites[1].on_demand->allow_file, "/dev/null");
    EXPECT_TRUE(config.sites[1].on_demand->allowed.empty());
}

TEST(LoadConfig, BadOnDemandTablesAreErrors) {
    EXPECT_EQ(load_errors(listeners + R"([sites.a]
hosts = ["a.example"]
command = ["./a"]
on_demand = { ask = "https://panel.example/allowed" }
[sites.b]
hosts = ["b.example"]
command = ["./b"]
tls = "auto"
on_demand = { }
[sites.c]
hosts = ["c.example"]
command = ["./c"]
tls = "auto"
tls_mode = "passthrough"
on_demand = { allow_file = "/nonexistent/names" }
)"),
              (Errors{"9:13: sites.a.on_demand: needs tls = \"auto\"",
                      "9:21: sites.a.on_demand.ask: must be an http:// URL, like \"http://127.0.0.1:9123/allowed\" (vhostd adds ?domain=NAME)",
                      "14:13: sites.b.on_demand: needs exactly one of ask = \"http://…\" and allow_file = \"FILE\"",
                      "18:7: sites.c.tls: on_demand needs tls_mode = \"terminate\": a passthrough site's workers load one certificate",
                      "20:28: sites.c.on_demand.allow_file: cannot read '/nonexistent/names'"}));
}

}  // namespace
}  // namespace vhostd::conf
