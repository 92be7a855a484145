#include "service/upgrade_message.hpp"

#include "protocol/message.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

namespace vhostd::service {
namespace {

namespace json = boost::json;

json::object decoded(const std::string& line) {
    EXPECT_EQ(line.back(), '\n');
    auto message = protocol::decode_message(std::string_view(line).substr(0, line.size() - 1));
    EXPECT_TRUE(message);
    return message ? *message : json::object{};
}

TEST(UpgradeMessage, AWaitingConnectionRoundTrips) {
    server::WaitingConnection sent{protocol::FileDescriptor(), {boost::asio::ip::make_address("::1"), 40218}, true, true,
                                   std::chrono::milliseconds(1234)};
    const json::object message = decoded(encode_waiting(sent));
    // A NODE_HANDLE, so that the channel decoder pairs it with its fd like any handoff.
    EXPECT_EQ(protocol::command_of(message), protocol::command::handle);
    const auto received = waiting_connection_of(message, protocol::FileDescriptor());
    ASSERT_TRUE(received);
    EXPECT_EQ(received->remote, sent.remote);
    EXPECT_TRUE(received->tls);
    EXPECT_TRUE(received->proxy_header);
    EXPECT_EQ(received->waited, sent.waited);
}

TEST(UpgradeMessage, MalformedOrOtherTypesAreRefused) {
    EXPECT_FALSE(waiting_connection_of(json::object{{"cmd", "NODE_HANDLE"}, {"type", "net.Socket"}, {"msg", json::object{}}}, {}));
    const json::object good = decoded(encode_waiting({protocol::FileDescriptor(), {boost::asio::ip::make_address("127.0.0.1"), 80}, false,
                                                       false, std::chrono::milliseconds(0)}));
    for (const auto& [key, value] : std::vector<std::pair<std::string, json::value>>{
             {"remoteAddress", "not an address"}, {"remotePort", 70000}, {"remotePort", "80"}, {"tls", 1}, {"waitedMs", -5}}) {
        json::object broken = good;
        broken["msg"].as_object()[key] = value;
        EXPECT_FALSE(waiting_connection_of(broken, {})) << key << " = " << json::serialize(value);
    }
}

}  // namespace
}  // namespace vhostd::service
