// admin/request_guard: the Host an admin request may name, and which requests count as a
// change from another site's page.
#include "admin/request_guard.hpp"

#include <gtest/gtest.h>

namespace vhostd::admin {
namespace {

TEST(AdminHostRule, LoopbackAddressAndLocalhost) {
    const HostRule rule("127.0.0.1", {});
    EXPECT_TRUE(rule.admits("127.0.0.1"));
    EXPECT_TRUE(rule.admits("127.0.0.1:9180"));
    EXPECT_TRUE(rule.admits("LocalHost:9180"));
    EXPECT_FALSE(rule.admits("127.0.0.2"));
    EXPECT_FALSE(rule.admits("attacker.example"));    // DNS rebinding: the page's own name
    EXPECT_FALSE(rule.admits("127.0.0.1.attacker.example"));
    EXPECT_FALSE(rule.admits(""));
    EXPECT_FALSE(rule.admits("127.0.0.1:x"));
}

TEST(AdminHostRule, IPv6SpelledAnyWay) {
    const HostRule rule("::1", {});
    EXPECT_TRUE(rule.admits("[::1]:9180"));
    EXPECT_TRUE(rule.admits("[0:0::1]"));
    EXPECT_TRUE(rule.admits("localhost"));
    EXPECT_FALSE(rule.admits("[::2]"));
}

TEST(AdminHostRule, WildcardTakesAnyAddressButNoName) {
    const HostRule rule("0.0.0.0", {"admin.example"});
    EXPECT_TRUE(rule.admits("192.0.2.7:9180"));
    EXPECT_TRUE(rule.admits("[2001:db8::1]"));
    EXPECT_TRUE(rule.admits("Admin.Example."));
    EXPECT_FALSE(rule.admits("localhost"));   // not loopback-only: localhost is not the endpoint's name
    EXPECT_FALSE(rule.admits("other.example"));
}

TEST(AdminCrossSite, ChangesFromAnotherPageAreRefused) {
    EXPECT_TRUE(is_cross_site_change({"POST", "127.0.0.1:9180", "http://attacker.example", std::nullopt}));
    EXPECT_TRUE(is_cross_site_change({"POST", "127.0.0.1:9180", "http://127.0.0.1:8080", std::nullopt}));  // another port
    EXPECT_TRUE(is_cross_site_change({"POST", "127.0.0.1:9180", "null", std::nullopt}));
    EXPECT_TRUE(is_cross_site_change({"POST", "127.0.0.1:9180", std::nullopt, "cross-site"}));
    EXPECT_TRUE(is_cross_site_change({"POST", "127.0.0.1:9180", std::nullopt, "same-site"}));
    EXPECT_TRUE(is_cross_site_change({"DELETE", "127.0.0.1:9180", "http://attacker.example", std::nullopt}));
}

TEST(AdminCrossSite, TheDashboardCurlAndReadsPass) {
    EXPECT_FALSE(is_cross_site_change({"POST", "127.0.0.1:9180", "http://127.0.0.1:9180", "same-origin"}));
    EXPECT_FALSE(is_cross_site_change({"POST", "LOCALHOST:9180", "http://localhost:9180", std::nullopt}));
    EXPECT_FALSE(is_cross_site_change({"POST", "127.0.0.1:9180", std::nullopt, std::nullopt}));  // curl, vhostctl
    EXPECT_FALSE(is_cross_site_change({"GET", "127.0.0.1:9180", "http://attacker.example", "cross-site"}));
}

}  // namespace
}  // namespace vhostd::admin
