#include "router/host.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>

namespace vhostd::router {
namespace {

using namespace std::string_literals;

struct HostCase {
    std::string raw;
    std::optional<std::string> expected;  // nullopt: must be rejected
};

void PrintTo(const HostCase& c, std::ostream* os) { *os << testing::PrintToString(c.raw); }

class NormalizeHost : public testing::TestWithParam<HostCase> {};

TEST_P(NormalizeHost, GivesTheExpectedHost) {
    const HostCase& c = GetParam();
    EXPECT_EQ(normalize_host(c.raw), c.expected) << "raw: \"" << c.raw << "\"";
}

const std::string label63(63, 'a');
const std::string label64(64, 'a');
// 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters.
const std::string host253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');

INSTANTIATE_TEST_SUITE_P(Names, NormalizeHost, testing::Values(
    HostCase{"example.com", "example.com"},
    HostCase{"EXAMPLE.Com", "example.com"},
    HostCase{"Blog.Example.:8080", "blog.example"},
    HostCase{"localhost", "localhost"},
    HostCase{"under_score.example", "under_score.example"},
    HostCase{"xn--bcher-kva.example", "xn--bcher-kva.example"},
    HostCase{"a-b.c-d", "a-b.c-d"},
    HostCase{"127.0.0.1", "127.0.0.1"},
    HostCase{"127.0.0.1:80", "127.0.0.1"}));

INSTANTIATE_TEST_SUITE_P(TrailingDot, NormalizeHost, testing::Values(
    HostCase{"example.com.", "example.com"},
    HostCase{"example.com.:443", "example.com"},
    HostCase{"example.com..", std::nullopt},
    HostCase{".", std::nullopt},
    HostCase{"..", std::nullopt}));

INSTANTIATE_TEST_SUITE_P(Ports, NormalizeHost, testing::Values(
    HostCase{"example.com:", "example.com"},  // RFC 3986: port = *DIGIT
    HostCase{"example.com:0", "example.com"},
    HostCase{"example.com:65535", "example.com"},
    HostCase{"example.com:00080", "example.com"},
    HostCase{"example.com:65536", std::nullopt},
    HostCase{"example.com:99999", std::nullopt},
    HostCase{"example.com:000080", std::nullopt},  // six digits
    HostCase{"example.com:8a", std::nullopt},
    HostCase{"example.com:-1", std::nullopt},
    HostCase{"example.com:+80", std::nullopt},
    HostCase{"example.com: 80", std::nullopt},
    HostCase{"example.com:80:80", std::nullopt},
    HostCase{":80", std::nullopt},
    HostCase{":", std::nullopt}));

INSTANTIATE_TEST_SUITE_P(BadNames, NormalizeHost, testing::Values(
    HostCase{"", std::nullopt},
    HostCase{".example.com", std::nullopt},
    HostCase{"a..b", std::nullopt},
    HostCase{"exa mple.com", std::nullopt},
    HostCase{" example.com", std::nullopt},
    HostCase{"example.com ", std::nullopt},
    HostCase{"example.com\t", std::nullopt},
    HostCase{"*.example.com", std::nullopt},
    HostCase{"*", std::nullopt},
    HostCase{"user@example.com", std::nullopt},
    HostCase{"example.com/path", std::nullopt},
    HostCase{"example.com?q", std::nullopt},
    HostCase{"exa%41mple.com", std::nullopt},
    HostCase{"b\xc3\xbc" "cher.example", std::nullopt},  // raw UTF-8
    HostCase{"a\0b.example"s, std::nullopt},
    HostCase{"a\rb", std::nullopt}));

INSTANTIATE_TEST_SUITE_P(Lengths, NormalizeHost, testing::Values(
    HostCase{label63 + ".example", label63 + ".example"},
    HostCase{label64 + ".example", std::nullopt},
    HostCase{"example." + label64, std::nullopt},
    HostCase{host253, host253},
    HostCase{host253 + ".", host253},
    HostCase{host253 + ":80", host253},
    HostCase{host253 + "b", std::nullopt}));

INSTANTIATE_TEST_SUITE_P(Ipv6, NormalizeHost, testing::Values(
    HostCase{"[::1]", "[::1]"},
    HostCase{"[::1]:8080", "[::1]"},
    HostCase{"[::1]:", "[::1]"},
    HostCase{"[2001:DB8::1]", "[2001:db8::1]"},
    HostCase{"[2001:db8:0:0:0:0:0:1]:443", "[2001:db8:0:0:0:0:0:1]"},
    HostCase{"[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]"},
    HostCase{"[::1]:65536", std::nullopt},
    HostCase{"[::1]:8a", std::nullopt},
    HostCase{"[::1]x", std::nullopt},
    HostCase{"[::1]]", std::nullopt},
    HostCase{"[::1", std::nullopt},
    HostCase{"[]", std::nullopt},
    HostCase{"[1:2]", std::nullopt},          // one colon is not IPv6
    HostCase{"[1::2::3]", std::nullopt},      // inet_pton refuses two "::"
    HostCase{"[::g]", std::nullopt},
    HostCase{"[fe80::1%eth0]", std::nullopt},  // no zone ids
    HostCase{"[v1.fe]", std::nullopt},          // IPvFuture
    HostCase{"[192.0.2.1]", std::nullopt},
    HostCase{"[::1.2.3]", std::nullopt},
    HostCase{"[1:2:3:4:5:6:7:8:9]", std::nullopt},
    HostCase{"[0000:0000:0000:0000:0000:FFFF:255.255.255.255]", "[0000:0000:0000:0000:0000:ffff:255.255.255.255]"},
    HostCase{"[00000::1]", std::nullopt},
    HostCase{"[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]", std::nullopt},
    HostCase{"::1", std::nullopt},              // unbracketed
    HostCase{"2001:db8::1", std::nullopt},
    HostCase{"2001:db8::1:80", std::nullopt}));

}  // namespace
}  // namespace vhostd::router
