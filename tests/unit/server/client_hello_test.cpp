#include "server/client_hello.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

using vhostd::server::ClientHelloStatus;
using vhostd::server::parse_client_hello;

namespace {

std::string from_hex(std::string_view hex) {
    std::string bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return bytes;
}

// A ClientHello that `openssl s_client -servername Blog.Example -alpn h2,http/1.1` sent (OpenSSL 3.0).
const std::string openssl_hello = from_hex(
    "160301014b010001470303f63162063b2cabc8ab26e8eb0ca80cdca9ed8c92870ace4a4ecafbcab646a80e20e1c07daf"
    "93803ac8af33695fc4e512151fbf590f02056b0e572b001901b2990b003e130213031301c02cc030009fcca9cca8ccaa"
    "c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000c0"
    "00000011000f00000c426c6f672e4578616d706c65000b000403000102000a00160014001d0017001e00190018010001"
    "01010201030104002300000010000e000c02683208687474702f312e310016000000170000000d002a00280403050306"
    "03080708080809080a080b080408050806040105010601030303010302040205020602002b0009080304030303020301"
    "002d00020101003300260024001d002020a51ce5a5a80ea1aa1b1ab0afcede6340a0475cccf083d2d81b765159d4cf06");

std::string u16(std::size_t value) { return {static_cast<char>(value >> 8), static_cast<char>(value & 0xff)}; }
std::string u24(std::size_t value) { return std::string(1, static_cast<char>(value >> 16)) + u16(value & 0xffff); }

std::string extension(std::uint16_t type, const std::string& data) { return u16(type) + u16(data.size()) + data; }

std::string server_name(const std::vector<std::string>& names) {
    std::string list;
    for (const auto& name : names) list += std::string(1, '\0') + u16(name.size()) + name;
    return extension(0, u16(list.size()) + list);
}

std::string alpn(const std::vector<std::string>& protocols) {
    std::string list;
    for (const auto& protocol : protocols) list += std::string(1, static_cast<char>(protocol.size())) + protocol;
    return extension(16, u16(list.size()) + list);
}

// A minimal ClientHello carrying `extensions`, split into records of at most `record_size`.
std::string client_hello(const std::string& extensions, std::size_t record_size = 16384) {
    std::string body = "\x03\x03" + std::string(32, 'r') + std::string(1, '\0') + u16(2) + "\x13\x01" + "\x01" + std::string(1, '\0');
    body += u16(extensions.size()) + extensions;
    const std::string handshake = "\x01" + u24(body.size()) + body;
    std::string records;
    for (std::size_t at = 0; at < handshake.size(); at += record_size) {
        const auto piece = handshake.substr(at, record_size);
        records += "\x16\x03\x01" + u16(piece.size()) + piece;
    }
    return records;
}

}  // namespace

TEST(ClientHello, ReadsWhatOpensslSends) {
    const auto result = parse_client_hello(openssl_hello);
    ASSERT_EQ(result.status, ClientHelloStatus::complete) << result.reason;
    EXPECT_EQ(result.hello.server_name, "blog.example");
    EXPECT_EQ(result.hello.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
    EXPECT_EQ(result.hello.length, openssl_hello.size());
}

TEST(ClientHello, EveryPrefixNeedsMore) {
    for (std::size_t size = 0; size < openssl_hello.size(); ++size) {
        EXPECT_EQ(parse_client_hello(std::string_view(openssl_hello).substr(0, size)).status, ClientHelloStatus::need_more) << size;
    }
}

TEST(ClientHello, ReassemblesAHelloSplitOverRecords) {
    const std::string hello = client_hello(server_name({"Shop.Example."}) + alpn({"http/1.1"}), 7);
    const auto result = parse_client_hello(hello + "trailing application bytes");
    ASSERT_EQ(result.status, ClientHelloStatus::complete) << result.reason;
    EXPECT_EQ(result.hello.server_name, "shop.example");
    EXPECT_EQ(result.hello.length, hello.size());
}

TEST(ClientHello, WithoutExtensionsHasNoNameAndNoProtocols) {
    const auto result = parse_client_hello(client_hello(""));
    ASSERT_EQ(result.status, ClientHelloStatus::complete);
    EXPECT_TRUE(result.hello.server_name.empty());
    EXPECT_TRUE(result.hello.alpn.empty());
}

TEST(ClientHello, TellsPlainHttpFromTls) {
    EXPECT_EQ(parse_client_hello("GET / HTTP/1.1\r\n").status, ClientHelloStatus::not_tls);
    EXPECT_EQ(parse_client_hello(std::string("\x16\x02\x00\x00\x10", 5)).status, ClientHelloStatus::not_tls);
}

TEST(ClientHello, RefusesWhatCouldBeReadTwoWays) {
    const auto two_names = parse_client_hello(client_hello(server_name({"a.example", "b.example"})));
    EXPECT_EQ(two_names.status, ClientHelloStatus::malformed);
    EXPECT_EQ(two_names.reason, "two host names in server_name");
    EXPECT_EQ(parse_client_hello(client_hello(server_name({"a.example"}) + server_name({"b.example"}))).status, ClientHelloStatus::malformed);
    EXPECT_EQ(parse_client_hello(client_hello(server_name({"bad name"}))).reason, "invalid host name in server_name");
    EXPECT_EQ(parse_client_hello(client_hello(server_name({"a.example:443"}))).status, ClientHelloStatus::malformed);
}

TEST(ClientHello, RefusesBrokenLengths) {
    std::string hello = client_hello(server_name({"a.example"}));
    hello[hello.size() - 16] = '\x7f';  // the server_name extension's length: far past the end
    EXPECT_EQ(parse_client_hello(hello).status, ClientHelloStatus::malformed);
    std::string not_hello = client_hello("");
    not_hello[5] = '\x02';  // a ServerHello from a client
    EXPECT_EQ(parse_client_hello(not_hello).status, ClientHelloStatus::malformed);
    EXPECT_EQ(parse_client_hello(std::string("\x16\x03\x01\x00\x00", 5)).status, ClientHelloStatus::malformed);
}

TEST(ClientHello, RefusesAHelloLargerThanTheLimit) {
    const std::string big = client_hello(extension(0xff01, std::string(4000, 'x')) + server_name({"a.example"}));
    EXPECT_EQ(parse_client_hello(big, 1024).status, ClientHelloStatus::malformed);
    EXPECT_EQ(parse_client_hello(big).status, ClientHelloStatus::complete);
}
