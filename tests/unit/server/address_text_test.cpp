// address_text() writes what Asio's to_string() writes (server/address_text.hpp).
#include "server/address_text.hpp"

#include <gtest/gtest.h>

#include <random>

namespace vhostd::server {
namespace {

TEST(AddressText, IsWhatToStringWrites) {
    namespace ip = boost::asio::ip;
    for (const char* text : {"0.0.0.0", "127.0.0.1", "10.0.100.9", "255.255.255.255", "::1", "::ffff:10.1.2.3", "2001:db8::42"}) {
        EXPECT_EQ(address_text(ip::make_address(text)), text);
    }
    std::mt19937 random(7);
    for (int i = 0; i < 100000; ++i) {
        const ip::address address = ip::address_v4(static_cast<ip::address_v4::uint_type>(random()));
        ASSERT_EQ(address_text(address), address.to_string());
    }
}

}  // namespace
}  // namespace vhostd::server
