// The shared channel vectors (tests/vectors/channel.json), read by the C++ SDK's decoding:
// the same file the Node and Python SDK suites run, so the three cannot drift apart.
#include "sdk/cpp/channel_fields.hpp"

#include "protocol/message.hpp"
#include "protocol/message_decoder.hpp"

#include "tests/unit/support/vectors.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>

#include <string>
#include <vector>

namespace vhostd::sdk {
namespace {

namespace json = boost::json;
using Status = protocol::MessageDecoder::Status;

const json::object& vectors() {
    static const json::object parsed = test_support::read_vectors("channel.json");
    return parsed;
}

const json::array& section(std::string_view name) { return vectors().at(name).as_array(); }

// A vector's line; "long": N is a line of exactly N bytes that vhostd could send.
std::string line_of(const json::object& vector) {
    if (const auto* length = vector.if_contains("long")) {
        const std::string head = R"({"cmd":"vhostd:padding","pad":")";
        const std::string tail = R"("})";
        return head + std::string(static_cast<std::size_t>(length->to_number<std::int64_t>()) - head.size() - tail.size(), 'a') + tail;
    }
    return std::string(vector.at("line").as_string());
}

bool has_fd(const json::object& vector) {
    const auto* fd = vector.if_contains("fd");
    return fd != nullptr && fd->as_bool();
}

// The line through the decoder the SDK reads its channel with, with an fd if the vector says.
Status decode(const json::object& vector, protocol::IncomingMessage& out) {
    protocol::MessageDecoder decoder;
    const std::string line = line_of(vector) + "\n";
    if (has_fd(vector)) {
        const int fds[] = {::open("/dev/null", O_RDONLY | O_CLOEXEC)};
        decoder.feed(line, fds);
    } else {
        decoder.feed(line);
    }
    return decoder.next(out);
}

json::object connection_fields(const protocol::ConnectionInfo& info) {
    json::object fields{{"id", info.id}, {"site", info.site}, {"remoteAddress", info.remote_address},
                        {"remotePort", info.remote_port}, {"localAddress", info.local_address},
                        {"localPort", info.local_port}, {"host", info.host}, {"websocket", info.websocket},
                        {"headLength", info.head_length}, {"tls", nullptr}};
    if (info.tls) {
        fields["tls"] = json::object{{"mode", info.tls->passthrough ? "passthrough" : "terminate"},
                                     {"serverName", info.tls->server_name}, {"alpn", info.tls->alpn},
                                     {"version", info.tls->version}, {"cipher", info.tls->cipher}};
    }
    return fields;
}

// A Sender as the vectors write a `from`: {} when the message had none.
json::object sender_fields(const Sender& sender) {
    if (sender.role.empty() && sender.slot == 0 && sender.pid == 0) return {};
    return {{"role", sender.role}, {"slot", sender.slot}, {"pid", sender.pid}};
}

json::value optional_id(const std::optional<std::int64_t>& id) { return id ? json::value(*id) : json::value(); }

// What the C++ SDK reads from `message`, in the vectors' terms (see channel.json's _about).
// Of an undeliverable report it reads only the reason.
json::object decoded_fields(const json::object& message) {
    const std::string_view command = protocol::command_of(message);
    if (command == "NODE_HANDLE") {
        const auto info = protocol::connection_info_of(message);
        return {{"connection", info ? json::value(connection_fields(*info)) : json::value()}};
    }
    if (command == "vhostd:message") {
        return {{"message", json::object{{"data", data_of(message)}, {"from", sender_fields(sender_of(message))}}}};
    }
    if (command == "vhostd:reply") {
        const auto id = call_id_of(message);
        if (!id) return {{"reply", json::object{{"id", nullptr}}}};
        const ReplyOutcome outcome = reply_outcome_of(message);
        return {{"reply", json::object{{"id", *id}, {"result", outcome.result},
                                       {"error", outcome.error ? json::value(*outcome.error) : json::value()}}}};
    }
    if (command == "vhostd:call") {
        const auto id = call_id_of(message);
        if (!id) return {{"call", json::object{{"id", nullptr}}}};
        const auto* method = message.if_contains("method");
        const auto* args = message.if_contains("args");
        return {{"call", json::object{{"id", optional_id(id)}, {"method", method ? *method : json::value()},
                                      {"args", args ? *args : json::value()},
                                      {"from", sender_fields(sender_of(message))}}}};
    }
    if (command == "vhostd:task") {
        const auto name = task_name_of(message);
        return {{"task", name ? json::value(*name) : json::value()}};
    }
    if (command == "vhostd:undeliverable") {
        return {{"undeliverable", json::object{{"reason", undeliverable_reason_of(message)}}}};
    }
    if (command == "vhostd:drain") return {};
    return {{"ignored", true}};
}

json::object expected_fields(const json::object& vector) {
    json::object expected;
    for (const char* kind : {"connection", "message", "reply", "call", "task", "undeliverable", "ignored"}) {
        if (const auto* value = vector.if_contains(kind)) expected[kind] = *value;
    }
    if (auto* report = expected.if_contains("undeliverable")) {
        *report = json::object{{"reason", report->as_object().at("reason")}};
    }
    return expected;
}

TEST(ChannelVectors, AreThere) {
    for (const char* name : {"decoded", "refused", "heartbeat_interval"}) EXPECT_FALSE(section(name).empty()) << name;
}

TEST(ChannelVectors, Decoded) {
    for (const auto& entry : section("decoded")) {
        const auto& vector = entry.as_object();
        protocol::IncomingMessage out;
        ASSERT_EQ(decode(vector, out), Status::message) << vector.at("name").as_string();
        EXPECT_EQ(protocol::command_of(out.message), vector.at("cmd").as_string()) << vector.at("name").as_string();
        EXPECT_EQ(out.fd.get() >= 0, has_fd(vector)) << vector.at("name").as_string();
        EXPECT_EQ(decoded_fields(out.message), expected_fields(vector)) << vector.at("name").as_string();
    }
}

TEST(ChannelVectors, Refused) {
    for (const auto& entry : section("refused")) {
        const auto& vector = entry.as_object();
        protocol::IncomingMessage out;
        EXPECT_EQ(decode(vector, out), Status::error) << vector.at("name").as_string();
    }
}

TEST(ChannelVectors, HeartbeatInterval) {
    for (const auto& entry : section("heartbeat_interval")) {
        const auto& vector = entry.as_object();
        const auto& env = vector.at("env");
        const std::string text = env.is_null() ? "" : std::string(env.as_string());
        EXPECT_EQ(heartbeat_interval(env.is_null() ? nullptr : text.c_str()).count(), vector.at("ms").to_number<std::int64_t>())
            << json::serialize(vector);
    }
}

}  // namespace
}  // namespace vhostd::sdk
