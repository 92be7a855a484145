// What the front serves for `tls = "auto"` sites: each name's chain and key, as the
// certificate manager obtained them, and the answers to the ACME server's challenges while
// it checks a name. The manager writes from the main loop; the front threads read, at a
// handshake (certificates, TLS-ALPN-01) or at a request under /.well-known/acme-challenge/
// (HTTP-01).
//
// All names share one TLS context, which sets each handshake's certificate by its SNI name
// (a certificate callback): a context costs OpenSSL about 100 KiB, a parsed chain and key a
// few. A replaced chain lives on in the handshakes that took it, so a renewal drops nothing.
#pragma once

#include "acme/publisher.hpp"

#include <openssl/ssl.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace vhostd::server {

class AutoTls final : public acme::Publisher {
public:
    void serve_certificate(const std::string& name, const std::string& chain_pem, const std::string& key_pem) override;
    void drop_certificate(const std::string& name) override;
    void offer_http01(const std::string& token, const std::string& key_authorization) override;
    void withdraw_http01(const std::string& token) override;
    void offer_tls_alpn01(const std::string& name, const acme::ChallengeCertificate& certificate) override;
    void withdraw_tls_alpn01(const std::string& name) override;

    AutoTls();

    // Null when `name` has no certificate (yet) or no pending TLS-ALPN-01 challenge; else
    // the context to terminate its handshake with.
    std::shared_ptr<SSL_CTX> certificate(const std::string& name) const;
    std::shared_ptr<SSL_CTX> tls_alpn01(const std::string& name) const;
    // The key authorization for a pending HTTP-01 token.
    std::optional<std::string> http01(std::string_view token) const;

    // On-demand TLS: asks the certificate manager (on its own loop) for `name` of `site`;
    // `done` runs on the manager's loop with whether a certificate is served now. Set once,
    // before the front accepts.
    using OnDemandRequest = std::function<void(const std::string& name, const std::string& site, std::function<void(bool)> done)>;
    void set_on_demand(OnDemandRequest request) { on_demand_ = std::move(request); }
    void request_on_demand(const std::string& name, const std::string& site, std::function<void(bool)> done) const;

private:
    using Context = std::shared_ptr<SSL_CTX>;
    struct Credential;
    // The certificate callback of `shared_`: the credential of the handshake's SNI name.
    static int use_credential(SSL* ssl, void* self);

    mutable std::mutex mutex_;
    Context shared_;
    std::unordered_map<std::string, std::shared_ptr<const Credential>> certificates_;
    std::unordered_map<std::string, Context> tls_alpn01_;
    std::unordered_map<std::string, std::string> http01_;
    OnDemandRequest on_demand_;
};

// The path an HTTP-01 validation asks for, before the token.
inline constexpr std::string_view acme_challenge_path = "/.well-known/acme-challenge/";

}  // namespace vhostd::server
