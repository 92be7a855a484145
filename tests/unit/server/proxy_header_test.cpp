#include "server/proxy_header.hpp"

#include <gtest/gtest.h>

#include <string>

namespace vhostd::server {
namespace {

using namespace std::string_literals;

const std::string v2_signature = "\r\n\r\n\0\r\nQUIT\n"s;

// A v2 header: version 2, `command`, `family_transport`, then `block` (addresses and TLVs).
std::string v2(unsigned char command, unsigned char family_transport, const std::string& block) {
    std::string header = v2_signature;
    header += static_cast<char>(0x20 | command);
    header += static_cast<char>(family_transport);
    header += static_cast<char>(block.size() >> 8);
    header += static_cast<char>(block.size() & 0xff);
    return header + block;
}

const std::string inet_block = "\xcb\x00\x71\x07"s "\x7f\x00\x00\x01"s "\x9c\x40"s "\x00\x50"s;  // 203.0.113.7:40000 -> 127.0.0.1:80

TEST(ProxyHeader, Version1Tcp4AndTcp6) {
    const std::string line = "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n";
    const ProxyHeaderParse parsed = parse_proxy_header(line + "GET / HTTP/1.1\r\n");
    ASSERT_EQ(parsed.status, ProxyHeaderStatus::complete) << parsed.reason;
    EXPECT_EQ(parsed.header.length, line.size());
    EXPECT_EQ(parsed.header.source_address, "203.0.113.7");
    EXPECT_EQ(parsed.header.source_port, 40000);

    const ProxyHeaderParse six = parse_proxy_header("PROXY TCP6 2001:db8::1 ::1 65535 443\r\n");
    ASSERT_EQ(six.status, ProxyHeaderStatus::complete) << six.reason;
    EXPECT_EQ(six.header.source_address, "2001:db8::1");
    EXPECT_EQ(six.header.source_port, 65535);
}

TEST(ProxyHeader, Version1UnknownKeepsTheConnectionsAddress) {
    const ProxyHeaderParse parsed = parse_proxy_header("PROXY UNKNOWN ffff:f...f 1.2.3.4 1 2\r\nGET");
    ASSERT_EQ(parsed.status, ProxyHeaderStatus::complete);
    EXPECT_TRUE(parsed.header.source_address.empty());
    EXPECT_EQ(parsed.header.length, std::string("PROXY UNKNOWN ffff:f...f 1.2.3.4 1 2\r\n").size());
}

TEST(ProxyHeader, Version1Incomplete) {
    for (const std::string part : {"P", "PROXY", "PROXY ", "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r"}) {
        EXPECT_EQ(parse_proxy_header(part).status, ProxyHeaderStatus::need_more) << part;
    }
}

TEST(ProxyHeader, Version1Refusals) {
    for (const std::string bad : {
             "PROXY TCP4 203.0.113.7 127.0.0.1 40000\r\n",           // a port missing
             "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80 x\r\n",      // a field too many
             "PROXY TCP4 2001:db8::1 127.0.0.1 1 2\r\n",             // IPv6 under TCP4
             "PROXY TCP6 203.0.113.7 ::1 1 2\r\n",                   // IPv4 under TCP6
             "PROXY TCP4 203.0.113.7 127.0.0.1 65536 80\r\n",        // port out of range
             "PROXY TCP4 203.0.113.7 127.0.0.1 080 80\r\n",          // leading zero
             "PROXY TCP4 203.0.113.7  127.0.0.1 1 2\r\n",            // two spaces
             "PROXY UDP4 203.0.113.7 127.0.0.1 1 2\r\n",             // not TCP
             "PROXY TCP4 203.0.113.7 127.0.0.1 1 2\n",               // a lone LF
             "GET / HTTP/1.1\r\n",                                    // no header at all
         }) {
        EXPECT_EQ(parse_proxy_header(bad).status, ProxyHeaderStatus::invalid) << bad;
    }
    EXPECT_EQ(parse_proxy_header("PROXY " + std::string(110, 'x')).status, ProxyHeaderStatus::invalid) << "longer than 107 bytes";
    EXPECT_EQ(parse_proxy_header("PROXY TCP4 \x01").status, ProxyHeaderStatus::invalid) << "a control character";
}

TEST(ProxyHeader, Version2ProxyInetAndInet6) {
    const std::string header = v2(1, 0x11, inet_block);
    const ProxyHeaderParse parsed = parse_proxy_header(header + "GET / HTTP/1.1\r\n");
    ASSERT_EQ(parsed.status, ProxyHeaderStatus::complete) << parsed.reason;
    EXPECT_EQ(parsed.header.length, header.size());
    EXPECT_EQ(parsed.header.source_address, "203.0.113.7");
    EXPECT_EQ(parsed.header.source_port, 40000);

    const std::string inet6 = "\x20\x01\x0d\xb8"s + std::string(11, '\0') + "\x01"s + std::string(15, '\0') + "\x01"s + "\x01\xbb\x00\x50"s;
    const ProxyHeaderParse six = parse_proxy_header(v2(1, 0x21, inet6));
    ASSERT_EQ(six.status, ProxyHeaderStatus::complete) << six.reason;
    EXPECT_EQ(six.header.source_address, "2001:db8::1");
    EXPECT_EQ(six.header.source_port, 443);
}

TEST(ProxyHeader, Version2TlvsAreSkippedAndLocalOrUnspecKeepsTheConnectionsAddress) {
    const std::string tlvs = "\x01\x00\x02h2"s "\x04\x00\x00"s;  // ALPN, then a NOOP
    const ProxyHeaderParse with_tlvs = parse_proxy_header(v2(1, 0x11, inet_block + tlvs));
    ASSERT_EQ(with_tlvs.status, ProxyHeaderStatus::complete);
    EXPECT_EQ(with_tlvs.header.length, 16 + inet_block.size() + tlvs.size());
    EXPECT_EQ(with_tlvs.header.source_address, "203.0.113.7");

    const ProxyHeaderParse local = parse_proxy_header(v2(0, 0x00, ""));
    ASSERT_EQ(local.status, ProxyHeaderStatus::complete);
    EXPECT_TRUE(local.header.source_address.empty());
    const ProxyHeaderParse unspec = parse_proxy_header(v2(1, 0x00, ""));
    ASSERT_EQ(unspec.status, ProxyHeaderStatus::complete);
    EXPECT_TRUE(unspec.header.source_address.empty());
}

TEST(ProxyHeader, Version2IncompleteAndRefusals) {
    const std::string header = v2(1, 0x11, inet_block);
    for (std::size_t size = 1; size < header.size(); ++size) {
        EXPECT_EQ(parse_proxy_header(header.substr(0, size)).status, ProxyHeaderStatus::need_more) << size;
    }
    std::string version_one = header;
    version_one[12] = 0x11;
    EXPECT_EQ(parse_proxy_header(version_one).status, ProxyHeaderStatus::invalid);
    EXPECT_EQ(parse_proxy_header(v2(2, 0x11, inet_block)).status, ProxyHeaderStatus::invalid) << "unknown command";
    EXPECT_EQ(parse_proxy_header(v2(1, 0x12, inet_block)).status, ProxyHeaderStatus::invalid) << "datagram";
    EXPECT_EQ(parse_proxy_header(v2(1, 0x11, inet_block.substr(0, 8))).status, ProxyHeaderStatus::invalid) << "short address block";
    EXPECT_EQ(parse_proxy_header(v2(1, 0x31, std::string(216, 'u'))).status, ProxyHeaderStatus::invalid) << "AF_UNIX";
    EXPECT_EQ(parse_proxy_header("\r\n\r\nX").status, ProxyHeaderStatus::invalid) << "not the signature";
}

}  // namespace
}  // namespace vhostd::server
