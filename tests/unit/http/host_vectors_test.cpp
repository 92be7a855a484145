// The shared host vectors (tests/vectors/hosts.json), read by the C++ grammar: the same file
// the Node and Python SDK suites run, so the three implementations cannot drift apart.
#include "http/host.hpp"

#include "conf/config.hpp"
#include "router/site_table.hpp"

#include "tests/unit/support/vectors.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace vhostd::http {
namespace {

namespace json = boost::json;

const json::object& vectors() {
    static const json::object parsed = test_support::read_vectors("hosts.json");
    return parsed;
}

using test_support::text;

std::optional<std::string> optional_text(const json::value& value) {
    return value.is_null() ? std::nullopt : std::optional<std::string>(text(value));
}

TEST(HostVectors, AreThere) {
    for (const char* section : {"normalize", "same_host", "patterns", "matches"}) {
        EXPECT_FALSE(vectors().at(section).as_array().empty()) << section;
    }
}

TEST(HostVectors, Normalize) {
    for (const auto& entry : vectors().at("normalize").as_array()) {
        const auto& vector = entry.as_object();
        const auto host = optional_text(vector.at("host"));
        EXPECT_EQ(normalize_host(text(vector.at("raw"))), host) << json::serialize(vector);
        if (host) {  // a normalised host reads back as itself
            EXPECT_EQ(normalize_host(*host), host) << json::serialize(vector);
        }
    }
}

TEST(HostVectors, SameHost) {
    for (const auto& entry : vectors().at("same_host").as_array()) {
        const auto& vector = entry.as_object();
        const bool same = vector.at("same").as_bool();
        EXPECT_EQ(same_host(text(vector.at("a")), text(vector.at("b"))), same) << json::serialize(vector);
        EXPECT_EQ(same_host(text(vector.at("b")), text(vector.at("a"))), same) << json::serialize(vector);
    }
}

TEST(HostVectors, Patterns) {
    for (const auto& entry : vectors().at("patterns").as_array()) {
        const auto& vector = entry.as_object();
        std::string problem;
        const auto pattern = normalize_host_pattern(text(vector.at("pattern")), &problem);
        EXPECT_EQ(pattern, optional_text(vector.at("normalized"))) << json::serialize(vector);
        EXPECT_EQ(problem.empty(), pattern.has_value()) << json::serialize(vector);
    }
}

// Both statements of the matching rule: the plain one here and the site table's hash maps.
TEST(HostVectors, Matches) {
    for (const auto& entry : vectors().at("matches").as_array()) {
        const auto& vector = entry.as_object();
        const std::string pattern = text(vector.at("pattern"));
        const std::string host = text(vector.at("host"));
        const bool match = vector.at("match").as_bool();
        EXPECT_EQ(host_matches_pattern(host, pattern), match) << json::serialize(vector);

        conf::Site site;
        site.name = "site";
        site.hosts = {pattern};
        const router::SiteTable table({site});
        EXPECT_EQ(table.lookup(host).has_value(), match) << json::serialize(vector);
    }
}

// What the front leaves out of a passthrough handoff's host: SNI that names an address.
TEST(Host, AnAddressIsNotAName) {
    for (const char* address : {"127.0.0.1", "10.1", "[::1]", "[2001:db8::1]", "example.123"}) {
        EXPECT_TRUE(is_address(address)) << address;
    }
    for (const char* name : {"a.test", "localhost", "1.2.3.4.example", "123abc", "x-1"}) {
        EXPECT_FALSE(is_address(name)) << name;
    }
}

}  // namespace
}  // namespace vhostd::http
