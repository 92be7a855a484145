// A WebSocket session through vhostd for tests: connect to 127.0.0.1:port, upgrade with the
// given Host, then echo or close. Blocking, with a 5 s deadline on every step.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cstdint>
#include <string>

namespace vhostd::test {

class WebSocketClient {
public:
    WebSocketClient(std::uint16_t port, const std::string& host, const std::string& path = "/");
    ~WebSocketClient();

    // Sends `message` and returns the next message received.
    std::string echo(const std::string& message);

private:
    boost::asio::io_context io_;
    boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
};

}  // namespace vhostd::test
