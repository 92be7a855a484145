// The certificate the front presents for a TLS-ALPN-01 challenge (RFC 8737 §3): self-signed,
// for one DNS name, with the critical acmeIdentifier extension holding SHA-256 of the key
// authorization. It lives only while its authorization is pending.
#pragma once

#include "acme/ec_key.hpp"

#include <memory>
#include <string>
#include <string_view>

using X509 = struct x509_st;

namespace vhostd::acme {

struct ChallengeCertificate {
    struct Free {
        void operator()(X509* certificate) const;
    };
    std::unique_ptr<X509, Free> certificate;
    EcKey key;
};

ChallengeCertificate tls_alpn_certificate(std::string_view name, std::string_view key_authorization);

// The ALPN protocol a validation server offers, and nothing else (RFC 8737 §3).
inline constexpr std::string_view acme_tls_alpn = "acme-tls/1";

}  // namespace vhostd::acme
