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
#include <string>
#include <vector>

namespace vhostd::server {

// A server context with the front's settings (protocols, ciphers, ALPN) and no certificate;
// throws std::runtime_error when OpenSSL cannot make one.
std::shared_ptr<SSL_CTX> new_server_context();

// OpenSSL's last error as text, cleared; "unknown error" when it has none.
std::string openssl_error();

class TlsContexts {
public:
    TlsContexts() = default;
    // Loads every site's certificates; throws std::runtime_error naming the site and file.
    TlsContexts(const std::vector<conf::Site>& sites, std::optional<std::size_t> default_site);

    struct Choice {
        SSL_CTX* context;
        std::optional<std::size_t> site;  // whose certificate it presents; nullopt: none
    };
    // For a ClientHello whose SNI routed to `site` (nullopt: a name no site has and no
    // default site): the site's own context, else the default site's, else one without a
    // certificate whose handshakes end in an unrecognized_name alert.
    Choice choose(std::optional<std::size_t> site) const;

private:
    using Context = std::shared_ptr<SSL_CTX>;
    std::vector<Context> by_site_;  // null for sites without certificates
    Context fallback_;
    std::optional<std::size_t> fallback_site_;
};

}  // namespace vhostd::server
