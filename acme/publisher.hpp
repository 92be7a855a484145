// Where the certificate manager puts what the front must serve: each name's certificate, and
// the answers to the challenges the ACME server is checking. The front implements it
// (server/auto_tls.hpp); the manager calls it from the main loop, the front threads read.
#pragma once

#include "acme/challenge_certificate.hpp"

#include <string>

namespace vhostd::acme {

class Publisher {
public:
    virtual ~Publisher() = default;

    // New handshakes for `name` get this chain (PEM, leaf first) and key (PEM); handshakes in
    // progress keep the one they had. Throws std::runtime_error when TLS refuses the pair.
    virtual void serve_certificate(const std::string& name, const std::string& chain_pem, const std::string& key_pem) = 0;
    virtual void drop_certificate(const std::string& name) = 0;

    // HTTP-01 (RFC 8555 §8.3): GET /.well-known/acme-challenge/TOKEN answers the key authorization.
    virtual void offer_http01(const std::string& token, const std::string& key_authorization) = 0;
    virtual void withdraw_http01(const std::string& token) = 0;

    // TLS-ALPN-01 (RFC 8737): a ClientHello for `name` offering acme-tls/1 gets this certificate.
    virtual void offer_tls_alpn01(const std::string& name, const ChallengeCertificate& certificate) = 0;
    virtual void withdraw_tls_alpn01(const std::string& name) = 0;
};

}  // namespace vhostd::acme
