#include "tests/integration/support/tls_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <sys/socket.h>
#include <sys/time.h>

namespace vhostd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

TlsClient::TlsClient(std::uint16_t port, const std::string& server_name, const std::string& ca_file)
    : context_(asio::ssl::context::tls_client), stream_(io_, context_) {
    context_.load_verify_file(ca_file);
    stream_.set_verify_mode(asio::ssl::verify_peer);
    stream_.set_verify_callback(asio::ssl::host_name_verification(server_name));
    SSL_set_tlsext_host_name(stream_.native_handle(), server_name.c_str());
    static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_set_alpn_protos(stream_.native_handle(), http11, sizeof http11);
    stream_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    const timeval limit{.tv_sec = 5, .tv_usec = 0};
    ::setsockopt(stream_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(stream_.next_layer().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    stream_.handshake(asio::ssl::stream_base::client);
}

std::string TlsClient::get(const std::string& host, const std::string& path) {
    http::request<http::empty_body> request(http::verb::get, path, 11);
    request.set(http::field::host, host);
    http::write(stream_, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream_, buffer, response);
    return std::to_string(response.result_int()) + " " + response.body();
}

std::string TlsClient::websocket_echo(const std::string& host, const std::string& message) {
    beast::websocket::stream<asio::ssl::stream<asio::ip::tcp::socket>&> ws(stream_);
    ws.handshake(host, "/");
    ws.write(asio::buffer(message));
    beast::flat_buffer buffer;
    ws.read(buffer);
    std::string echoed = beast::buffers_to_string(buffer.data());
    beast::error_code ignored;
    ws.close(beast::websocket::close_code::normal, ignored);
    return echoed;
}

}  // namespace vhostd::test
