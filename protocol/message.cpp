#include "protocol/message.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>

namespace vhostd::protocol {

namespace json = boost::json;

namespace {

std::string to_line(const json::object& object) {
    std::string line = json::serialize(object);
    line.push_back('\n');
    return line;
}

std::string string_field(const json::object& object, std::string_view key) {
    const json::value* value = object.if_contains(key);
    if (value == nullptr || !value->is_string()) return {};
    return std::string(value->get_string());
}

std::uint64_t unsigned_field(const json::object& object, std::string_view key) {
    const json::value* value = object.if_contains(key);
    if (value == nullptr) return 0;
    if (value->is_uint64()) return value->get_uint64();
    if (value->is_int64() && value->get_int64() >= 0) return static_cast<std::uint64_t>(value->get_int64());
    // A double outside [0, 2^64) (1e93, NaN) has no uint64 value: casting it is undefined
    // behaviour, which the fuzzer found with a heartbeat of "requests":1e93.
    if (value->is_double() && value->get_double() >= 0 && value->get_double() < 18446744073709551616.0) {
        return static_cast<std::uint64_t>(value->get_double());
    }
    return 0;
}

// A port: 0 to 65535; anything else reads as 0, as a missing one does.
std::uint16_t port_field(const json::object& object, std::string_view key) {
    const std::uint64_t value = unsigned_field(object, key);
    return value <= 65535 ? static_cast<std::uint16_t>(value) : 0;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t plain_from = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(text.data() + plain_from, i - plain_from);
        plain_from = i + 1;
        switch (c) {
            case '"': out.append("\\\""); break;
            case '\\': out.append("\\\\"); break;
            case '\b': out.append("\\b"); break;
            case '\f': out.append("\\f"); break;
            case '\n': out.append("\\n"); break;
            case '\r': out.append("\\r"); break;
            case '\t': out.append("\\t"); break;
            default:
                out.append("\\u00");
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 0xf]);
        }
    }
    out.append(text.data() + plain_from, text.size() - plain_from);
    out.push_back('"');
}

namespace {

// `"name":` after a comma unless it opens the object.
void append_name(std::string& out, std::string_view name) {
    if (out.back() != '{') out.push_back(',');
    out.push_back('"');
    out.append(name);
    out.append("\":");
}

void append_member(std::string& out, std::string_view name, std::string_view text) {
    append_name(out, name);
    append_json_string(out, text);
}

void append_member(std::string& out, std::string_view name, std::uint64_t value) {
    append_name(out, name);
    char digits[20];
    out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
}

}  // namespace

void encode_handle_into(std::string& out, const ConnectionInfo& info) {
    // Formatted straight into the caller's buffer, once per connection; the bytes are those
    // Boost.JSON would write for the same object (message_test.cpp compares them).
    out.assign(R"({"cmd":")");
    out.append(command::handle);
    out.append(R"(","type":"net.Socket","msg":{)");
    append_member(out, "id", info.id);
    append_member(out, "site", info.site);
    append_member(out, "remoteAddress", info.remote_address);
    append_member(out, "remotePort", std::uint64_t{info.remote_port});
    append_member(out, "localAddress", info.local_address);
    append_member(out, "localPort", std::uint64_t{info.local_port});
    append_member(out, "host", info.host);
    append_name(out, "websocket");
    out.append(info.websocket ? "true" : "false");
    append_member(out, "headLength", std::uint64_t{info.head_length});
    if (info.tls) {
        append_name(out, "tls");
        out.push_back('{');
        append_member(out, "mode", info.tls->passthrough ? "passthrough" : "terminate");
        append_member(out, "serverName", info.tls->server_name);
        append_member(out, "alpn", info.tls->alpn);
        append_member(out, "version", info.tls->version);
        append_member(out, "cipher", info.tls->cipher);
        out.push_back('}');
    }
    out.append("}}\n");
}

std::string encode_handle(const ConnectionInfo& info) {
    std::string line;
    encode_handle_into(line, info);
    return line;
}

std::string encode_command(std::string_view cmd) {
    return to_line({{"cmd", cmd}});
}

std::string encode_heartbeat(const Heartbeat& heartbeat) {
    return to_line({
        {"cmd", command::heartbeat},
        {"active", heartbeat.active_connections},
        {"requests", heartbeat.requests},
        {"websockets", heartbeat.websockets},
    });
}

std::optional<json::object> decode_message(std::string_view line) {
    json::error_code ec;
    json::value value = json::parse(line, ec);
    if (ec || !value.is_object()) return std::nullopt;
    const json::value* cmd = value.get_object().if_contains("cmd");
    if (cmd == nullptr || !cmd->is_string()) return std::nullopt;
    return std::move(value.get_object());
}

std::string_view command_of(const json::object& message) {
    const json::value* cmd = message.if_contains("cmd");
    return cmd != nullptr && cmd->is_string() ? std::string_view(cmd->get_string()) : std::string_view{};
}

std::optional<ConnectionInfo> connection_info_of(const json::object& handle_message) {
    const json::value* msg = handle_message.if_contains("msg");
    if (msg == nullptr || !msg->is_object()) return std::nullopt;
    const json::object& fields = msg->get_object();
    ConnectionInfo info;
    info.id = unsigned_field(fields, "id");
    info.site = string_field(fields, "site");
    info.remote_address = string_field(fields, "remoteAddress");
    info.remote_port = port_field(fields, "remotePort");
    info.local_address = string_field(fields, "localAddress");
    info.local_port = port_field(fields, "localPort");
    info.host = string_field(fields, "host");
    const json::value* websocket = fields.if_contains("websocket");
    info.websocket = websocket != nullptr && websocket->is_bool() && websocket->get_bool();
    info.head_length = unsigned_field(fields, "headLength");
    if (const json::value* tls = fields.if_contains("tls"); tls != nullptr && tls->is_object()) {
        const json::object& tls_fields = tls->get_object();
        info.tls = TlsInfo{
            .passthrough = string_field(tls_fields, "mode") == "passthrough",
            .server_name = string_field(tls_fields, "serverName"),
            .alpn = string_field(tls_fields, "alpn"),
            .version = string_field(tls_fields, "version"),
            .cipher = string_field(tls_fields, "cipher"),
        };
    }
    return info;
}

Heartbeat heartbeat_of(const json::object& heartbeat_message) {
    return {
        .active_connections = unsigned_field(heartbeat_message, "active"),
        .requests = unsigned_field(heartbeat_message, "requests"),
        .websockets = unsigned_field(heartbeat_message, "websockets"),
    };
}

}  // namespace vhostd::protocol
