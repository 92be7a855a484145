// [[listen]] (conf/listen_section.cpp): addresses and the PROXY protocol sources.
#include "tests/unit/conf/load_helpers.hpp"
#include "conf/address_range.hpp"

#include <gtest/gtest.h>

namespace vhostd::conf {
namespace {

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

}  // namespace
}  // namespace vhostd::conf
