// The pure PROXY protocol reader (versions 1 and 2, as HAProxy specifies them): bytes in,
// the original client's address and the header's length out. A load balancer in TCP mode
// sends the header before the client's first byte; the front reads the header out of the
// socket and serves the rest as usual, in the client's name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vhostd::server {

struct ProxyHeader {
    std::size_t length = 0;       // bytes of header before the client's own
    // The client's address; empty for v2 LOCAL, v1 UNKNOWN and v2 without an address
    // (health checks by the balancer itself), when the connection's own address stands.
    std::string source_address;   // "203.0.113.7", "2001:db8::1"
    std::uint16_t source_port = 0;
};

enum class ProxyHeaderStatus { complete, need_more, invalid };

struct ProxyHeaderParse {
    ProxyHeaderStatus status = ProxyHeaderStatus::need_more;
    ProxyHeader header;           // for complete
    std::string reason;           // for invalid, for the log
};

// Reads the header at the start of `bytes`: need_more only while what came so far can still
// be a valid header.
ProxyHeaderParse parse_proxy_header(std::string_view bytes);

}  // namespace vhostd::server
