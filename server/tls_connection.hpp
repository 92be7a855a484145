// A connection on a `tls = true` listener whose site is in terminate mode: vhostd completes
// the handshake, reads the request head through TLS, routes it by Host, and hands the worker
// one end of a Unix socketpair on which the worker reads and writes plain HTTP; vhostd then
// relays between the TLS connection and that socketpair until either side is done.
#pragma once

#include "protocol/file_descriptor.hpp"
#include "server/arrival.hpp"
#include "server/client_hello.hpp"

#include <openssl/ssl.h>

#include <optional>

namespace vhostd::server {

// `sni_site` is where the ClientHello's server name routed (nullopt without SNI); a Host
// that routes elsewhere gets 421. `context` holds the certificate to present.
void terminate_tls(Arrival arrival, protocol::FileDescriptor fd, ClientHello hello, std::optional<std::size_t> sni_site,
                   SSL_CTX* context);

}  // namespace vhostd::server
