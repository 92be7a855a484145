#include "protocol/message.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <random>

namespace protocol = vhostd::protocol;

namespace {

// The handle line as Boost.JSON writes it: the reference the direct encoder must match byte
// for byte, so that a Node worker's JSON.parse reads the same either way.
std::string reference_handle(const protocol::ConnectionInfo& info) {
    boost::json::object msg{{"id", info.id},
                            {"site", info.site},
                            {"remoteAddress", info.remote_address},
                            {"remotePort", info.remote_port},
                            {"localAddress", info.local_address},
                            {"localPort", info.local_port},
                            {"host", info.host},
                            {"websocket", info.websocket},
                            {"headLength", info.head_length}};
    if (info.tls) {
        msg["tls"] = boost::json::object{{"mode", info.tls->passthrough ? "passthrough" : "terminate"},
                                         {"serverName", info.tls->server_name},
                                         {"alpn", info.tls->alpn},
                                         {"version", info.tls->version},
                                         {"cipher", info.tls->cipher}};
    }
    return boost::json::serialize(boost::json::object{{"cmd", "NODE_HANDLE"}, {"type", "net.Socket"}, {"msg", std::move(msg)}}) + "\n";
}

}  // namespace

TEST(Message, TheDirectHandleLineIsWhatBoostJsonWrites) {
    std::mt19937_64 random(20261207);
    const auto text = [&](std::size_t longest) {
        std::string value(random() % (longest + 1), '\0');
        for (char& c : value) c = static_cast<char>(random() % 4 == 0 ? random() % 0x30 : 0x20 + random() % 0x60);
        return value;
    };
    std::string line;  // reused, as the front reuses it
    for (int i = 0; i < 2000; ++i) {
        protocol::ConnectionInfo info{.id = random(), .site = text(20), .remote_address = text(40),
                                      .remote_port = static_cast<std::uint16_t>(random()), .local_address = text(40),
                                      .local_port = static_cast<std::uint16_t>(random()), .host = text(60),
                                      .websocket = random() % 2 == 0, .head_length = random() % 100000, .tls = {}};
        if (i % 3 == 0) {
            info.tls = protocol::TlsInfo{.passthrough = i % 2 == 0, .server_name = text(30), .alpn = text(10), .version = text(8),
                                         .cipher = text(30)};
        }
        protocol::encode_handle_into(line, info);
        ASSERT_EQ(line, reference_handle(info)) << i;
    }
    EXPECT_EQ(protocol::encode_handle({}), reference_handle({}));
    std::string quoted;
    protocol::append_json_string(quoted, std::string("a\"b\\c\x01\x1f\x7f\xc3\xa9\n", 11));
    EXPECT_EQ(quoted, "\"a\\\"b\\\\c\\u0001\\u001f\x7f\xc3\xa9\\n\"");
}

TEST(Message, HandleIsNodeIpcShapedAndRoundTrips) {
    protocol::ConnectionInfo info{.id = 42, .site = "blog", .remote_address = "::1", .remote_port = 5555,
                                  .local_address = "::1", .local_port = 8080, .host = "blog.example",
                                  .websocket = true, .head_length = 77, .tls = {}};
    const std::string line = protocol::encode_handle(info);
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one message, one line";

    auto message = protocol::decode_message(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(message);
    EXPECT_EQ(protocol::command_of(*message), "NODE_HANDLE");
    EXPECT_EQ(message->at("type").as_string(), "net.Socket");
    auto decoded = protocol::connection_info_of(*message);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->id, 42u);
    EXPECT_EQ(decoded->site, "blog");
    EXPECT_EQ(decoded->remote_address, "::1");
    EXPECT_EQ(decoded->remote_port, 5555);
    EXPECT_EQ(decoded->local_port, 8080);
    EXPECT_EQ(decoded->host, "blog.example");
    EXPECT_TRUE(decoded->websocket);
    EXPECT_EQ(decoded->head_length, 77u);
}

TEST(Message, TlsMetadataRoundTripsAndIsAbsentForPlainHttp) {
    protocol::ConnectionInfo plain;
    plain.id = 1;
    plain.site = "blog";
    EXPECT_EQ(protocol::encode_handle(plain).find("\"tls\""), std::string::npos);

    protocol::ConnectionInfo info = plain;
    info.id = 2;
    info.tls = protocol::TlsInfo{.passthrough = false, .server_name = "shop.test", .alpn = "http/1.1",
                                 .version = "TLSv1.3", .cipher = "TLS_AES_256_GCM_SHA384"};
    const std::string line = protocol::encode_handle(info);
    EXPECT_NE(line.find("\"mode\":\"terminate\""), std::string::npos) << line;
    auto decoded = protocol::connection_info_of(*protocol::decode_message(std::string_view(line).substr(0, line.size() - 1)));
    ASSERT_TRUE(decoded && decoded->tls);
    EXPECT_EQ(*decoded->tls, *info.tls);

    info.tls = protocol::TlsInfo{};
    info.tls->passthrough = true;
    info.tls->server_name = "shop.test";
    const std::string passthrough = protocol::encode_handle(info);
    decoded = protocol::connection_info_of(*protocol::decode_message(std::string_view(passthrough).substr(0, passthrough.size() - 1)));
    ASSERT_TRUE(decoded && decoded->tls);
    EXPECT_TRUE(decoded->tls->passthrough);
}

TEST(Message, CommandsAndHeartbeats) {
    EXPECT_EQ(protocol::encode_command(protocol::command::ready), "{\"cmd\":\"vhostd:ready\"}\n");
    EXPECT_EQ(protocol::encode_command(protocol::command::handle_ack), "{\"cmd\":\"NODE_HANDLE_ACK\"}\n");
    const std::string line = protocol::encode_heartbeat({.active_connections = 3, .requests = 1000, .websockets = 2});
    auto message = protocol::decode_message(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(message);
    const protocol::Heartbeat heartbeat = protocol::heartbeat_of(*message);
    EXPECT_EQ(heartbeat.active_connections, 3u);
    EXPECT_EQ(heartbeat.requests, 1000u);
    EXPECT_EQ(heartbeat.websockets, 2u);
}

// Found by fuzz_message_decoder: a number too large for a counter was cast with undefined
// behaviour. Out-of-range and negative counters read as 0.
TEST(Message, CountersOutOfRangeReadAsZero) {
    const auto message = protocol::decode_message(
        R"({"cmd":"vhostd:heartbeat","active":1e93,"requests":-5,"websockets":1.8446744073709552e19})");
    ASSERT_TRUE(message);
    const protocol::Heartbeat heartbeat = protocol::heartbeat_of(*message);
    EXPECT_EQ(heartbeat.active_connections, 0u);
    EXPECT_EQ(heartbeat.requests, 0u);
    EXPECT_EQ(heartbeat.websockets, 0u);
    EXPECT_EQ(protocol::heartbeat_of(*protocol::decode_message(R"({"cmd":"vhostd:heartbeat","requests":12.0})")).requests, 12u);
}

TEST(Message, RejectsWhatIsNotACommandObject) {
    EXPECT_FALSE(protocol::decode_message("not json"));
    EXPECT_FALSE(protocol::decode_message("[1,2]"));
    EXPECT_FALSE(protocol::decode_message("{\"cmd\":7}"));
    EXPECT_FALSE(protocol::decode_message("{\"no\":\"cmd\"}"));
    EXPECT_FALSE(protocol::decode_message("{\"cmd\":\"x\"} trailing"));
    EXPECT_TRUE(protocol::decode_message("{\"cmd\":\"vhostd:future\",\"extra\":[1]}"));
}

TEST(Message, HeartbeatToleratesMissingAndNegativeCounters) {
    auto message = protocol::decode_message("{\"cmd\":\"vhostd:heartbeat\",\"active\":-4,\"requests\":12.0}");
    ASSERT_TRUE(message);
    const protocol::Heartbeat heartbeat = protocol::heartbeat_of(*message);
    EXPECT_EQ(heartbeat.active_connections, 0u);
    EXPECT_EQ(heartbeat.requests, 12u);
    EXPECT_EQ(heartbeat.websockets, 0u);
}
