// A connection on a `tls = true` listener whose site is in terminate mode: vhostd completes
// the handshake, reads the request head through TLS, routes it by Host, and hands the worker
// one end of a Unix socketpair on which the worker reads and writes plain HTTP; vhostd then
// relays between the TLS connection and that socketpair until either side is done.
#pragma once

#include "protocol/file_descriptor.hpp"
#include "server/arrival.hpp"
#include "server/client_hello.hpp"

#include <openssl/ssl.h>

#include <memory>
#include <optional>

namespace vhostd::server {

// `context` holds the certificate to present, which is `certificate_site`'s: a Host that
// routes to another site gets 421.
void terminate_tls(Arrival arrival, protocol::FileDescriptor fd, ClientHello hello, std::optional<std::size_t> certificate_site,
                   SSL_CTX* context);

// On-demand TLS: `site` matched the SNI name, which has no certificate yet. The connection
// waits (up to [acme] on_demand_wait) while the manager decides and perhaps obtains one,
// then goes on as terminate_tls() with it, or is closed and logged.
void terminate_tls_on_demand(Arrival arrival, protocol::FileDescriptor fd, ClientHello hello, std::size_t site);

// A validation server's handshake for a name whose TLS-ALPN-01 challenge is pending
// (RFC 8737): `challenge` presents the challenge certificate; the connection ends with the
// handshake, as the server expects.
void answer_tls_alpn01(Arrival arrival, protocol::FileDescriptor fd, ClientHello hello, std::shared_ptr<SSL_CTX> challenge);

}  // namespace vhostd::server
