// The server-side OpenSSL contexts of a configuration: one per site with certificates, built
// from its PEM files, and the one a connection gets when its SNI names no such site.
// Immutable once built; a reload builds a new set, so new handshakes use the new files while
// connections already open keep theirs.
#pragma once

#include "conf/config.hpp"

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace vhostd::server {

class TlsContexts {
public:
    TlsContexts() = default;
    // Loads every site's certificates; throws std::runtime_error naming the site and file.
    TlsContexts(const std::vector<conf::Site>& sites, std::optional<std::size_t> default_site);

    // For a ClientHello whose SNI routed to `site` (nullopt: no SNI, or a name no site has):
    // the site's own context, else the default site's, else one without a certificate whose
    // handshakes end in an unrecognized_name alert.
    SSL_CTX* for_site(std::optional<std::size_t> site) const;

private:
    using Context = std::shared_ptr<SSL_CTX>;
    std::vector<Context> by_site_;  // null for sites without certificates
    Context fallback_;
};

}  // namespace vhostd::server
