// TLS for workers of passthrough sites: vhostd hands them the raw TCP connection with the
// ClientHello unread, and they terminate TLS with the site's own certificates, whose paths
// vhostd passes in the environment. Keys then never enter vhostd's data path.
//
//   asio::ssl::context tls = vhostd::sdk::server_tls_context();   // once
//   ...on a connection whose info.tls->passthrough is true:
//   asio::ssl::stream<tcp::socket> stream(std::move(socket), tls);
//   co_await stream.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
#pragma once

#include <boost/asio/ssl/context.hpp>

namespace vhostd::sdk {

// True when vhostd passed certificate paths (VHOSTD_TLS_CERT / VHOSTD_TLS_KEY).
bool has_tls_certificates();

// A server context with TLS 1.2+ only, modern ciphers, ALPN http/1.1 and every certificate
// chain and key vhostd named. Throws std::runtime_error naming the file that failed.
boost::asio::ssl::context server_tls_context();

}  // namespace vhostd::sdk
