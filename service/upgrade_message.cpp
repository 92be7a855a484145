#include "service/upgrade_message.hpp"

#include "protocol/message.hpp"

#include <boost/json/serialize.hpp>

namespace vhostd::service {

namespace json = boost::json;

std::string encode_waiting(const server::WaitingConnection& connection) {
    json::object msg{
        {"remoteAddress", connection.remote.address().to_string()},
        {"remotePort", connection.remote.port()},
        {"tls", connection.tls},
        {"proxyHeader", connection.proxy_header},
        {"waitedMs", connection.waited.count()},
    };
    std::string line = json::serialize(json::object{{"cmd", protocol::command::handle}, {"type", waiting_socket_type}, {"msg", std::move(msg)}});
    line.push_back('\n');
    return line;
}

std::optional<server::WaitingConnection> waiting_connection_of(const json::object& message, protocol::FileDescriptor fd) {
    const json::value* type = message.if_contains("type");
    const json::value* msg = message.if_contains("msg");
    if (type == nullptr || !type->is_string() || type->get_string() != waiting_socket_type || msg == nullptr || !msg->is_object()) {
        return std::nullopt;
    }
    const json::object& fields = msg->get_object();
    const json::value* address = fields.if_contains("remoteAddress");
    const json::value* port = fields.if_contains("remotePort");
    const json::value* tls = fields.if_contains("tls");
    const json::value* proxy = fields.if_contains("proxyHeader");
    const json::value* waited = fields.if_contains("waitedMs");
    const auto whole = [](const json::value* value) -> std::optional<std::int64_t> {
        if (value == nullptr) return std::nullopt;
        boost::system::error_code ec;
        const auto number = value->to_number<std::int64_t>(ec);
        return ec ? std::nullopt : std::optional(number);
    };
    const std::optional<std::int64_t> port_number = whole(port);
    const std::optional<std::int64_t> waited_ms = whole(waited);
    if (address == nullptr || !address->is_string() || !port_number || *port_number < 0 || *port_number > 65535 || !waited_ms ||
        *waited_ms < 0 || tls == nullptr || !tls->is_bool() || proxy == nullptr || !proxy->is_bool()) {
        return std::nullopt;
    }
    boost::system::error_code ec;
    const auto ip = boost::asio::ip::make_address(address->get_string().c_str(), ec);
    if (ec) return std::nullopt;
    return server::WaitingConnection{std::move(fd), {ip, static_cast<std::uint16_t>(*port_number)}, tls->get_bool(), proxy->get_bool(),
                                     std::chrono::milliseconds(*waited_ms)};
}

}  // namespace vhostd::service
