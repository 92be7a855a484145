// A real OpenSSL client (Asio/Beast) for the TLS tests' steps that curl cannot take: keep a
// connection open across checks, and WebSocket over TLS. Connects to 127.0.0.1:port with
// SNI `server_name`, verifies the chain against `ca_file` and the name. Blocking, with a
// 5 s limit on every socket read and write.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include <cstdint>
#include <string>

namespace vhostd::test {

class TlsClient {
public:
    // Throws boost::system::system_error when the connection or the handshake fails.
    TlsClient(std::uint16_t port, const std::string& server_name, const std::string& ca_file);

    // A keep-alive GET; returns "STATUS BODY".
    std::string get(const std::string& host, const std::string& path = "/");
    // Upgrades this connection to a WebSocket, sends `message` and returns the echo.
    std::string websocket_echo(const std::string& host, const std::string& message);

private:
    boost::asio::io_context io_;
    boost::asio::ssl::context context_;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
};

}  // namespace vhostd::test
