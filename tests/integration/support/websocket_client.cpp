#include "tests/integration/support/websocket_client.hpp"

namespace vhostd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;

WebSocketClient::WebSocketClient(std::uint16_t port, const std::string& host, const std::string& path) : ws_(io_) {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(5));
    beast::get_lowest_layer(ws_).connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws_.handshake(host, path);
}

WebSocketClient::~WebSocketClient() {
    beast::error_code ignored;
    ws_.close(beast::websocket::close_code::normal, ignored);
}

std::string WebSocketClient::echo(const std::string& message) {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(5));
    ws_.write(asio::buffer(message));
    beast::flat_buffer buffer;
    ws_.read(buffer);
    return beast::buffers_to_string(buffer.data());
}

}  // namespace vhostd::test
