// The pure TLS ClientHello reader: bytes in, the SNI name and ALPN list out, without
// terminating TLS. The front peeks it the way it peeks an HTTP head, so that a TLS
// connection can be routed (and, for passthrough sites, handed on with every byte unread).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vhostd::server {

struct ClientHello {
    std::string server_name;          // normalised (http::normalize_host); empty without SNI
    std::vector<std::string> alpn;    // as offered, in order
    std::size_t length = 0;           // bytes of the records that carried the ClientHello
};

enum class ClientHelloStatus { complete, need_more, not_tls, malformed };

struct ClientHelloParse {
    ClientHelloStatus status = ClientHelloStatus::need_more;
    ClientHello hello;                // for complete
    std::string reason;               // for not_tls and malformed, for the log
};

// Reads the handshake records at the start of `bytes` (a ClientHello may span several) up to
// `max_size` bytes of handshake. need_more only while nothing seen so far is wrong.
ClientHelloParse parse_client_hello(std::string_view bytes, std::size_t max_size = 16 * 1024);

}  // namespace vhostd::server
