#include "server/auto_tls.hpp"

#include "http/host.hpp"
#include "server/tls_contexts.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdexcept>

namespace vhostd::server {

namespace {

struct BioFree {
    void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
    void operator()(X509* certificate) const { X509_free(certificate); }
};
struct KeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioFree> memory_bio(const std::string& pem) {
    return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// A validation server offers acme-tls/1 alone (RFC 8737 §3); nothing else is chosen here.
int select_acme_tls(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                    unsigned int offered_length, void*) {
    static const unsigned char acme_tls[] = {10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, acme_tls, sizeof acme_tls, offered, offered_length) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

struct ChainFree {
    void operator()(STACK_OF(X509)* chain) const { sk_X509_pop_free(chain, X509_free); }
};

}  // namespace

struct AutoTls::Credential {
    std::unique_ptr<X509, X509Free> leaf;
    std::unique_ptr<STACK_OF(X509), ChainFree> chain;  // the intermediates
    std::unique_ptr<EVP_PKEY, KeyFree> key;
};

AutoTls::AutoTls() : shared_(new_server_context()) { SSL_CTX_set_cert_cb(shared_.get(), use_credential, this); }

int AutoTls::use_credential(SSL* ssl, void* self) {
    const char* sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    // As the front routed it: "Shop.Example." is shop.example.
    const std::optional<std::string> name = sent != nullptr ? http::normalize_host(sent) : std::nullopt;
    if (!name) return 0;
    std::shared_ptr<const Credential> credential;
    {
        const AutoTls& tls = *static_cast<const AutoTls*>(self);
        const std::lock_guard lock(tls.mutex_);
        const auto found = tls.certificates_.find(*name);
        if (found != tls.certificates_.end()) credential = found->second;
    }
    // Each call takes its own reference: the SSL keeps them past a replacement.
    return credential && SSL_use_certificate(ssl, credential->leaf.get()) == 1 && SSL_use_PrivateKey(ssl, credential->key.get()) == 1 &&
                   SSL_set1_chain(ssl, credential->chain.get()) == 1
               ? 1
               : 0;
}

void AutoTls::serve_certificate(const std::string& name, const std::string& chain_pem, const std::string& key_pem) {
    auto credential = std::make_shared<Credential>();
    auto chain = memory_bio(chain_pem);
    credential->leaf.reset(PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr));
    if (!credential->leaf) throw std::runtime_error("the certificate for " + name + " cannot be used: " + openssl_error());
    credential->chain.reset(sk_X509_new_null());
    while (X509* intermediate = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr)) sk_X509_push(credential->chain.get(), intermediate);
    ERR_clear_error();  // the end of the PEM text
    auto key_bio = memory_bio(key_pem);
    credential->key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!credential->key || X509_check_private_key(credential->leaf.get(), credential->key.get()) != 1) {
        throw std::runtime_error("the key for " + name + " does not fit its certificate: " + openssl_error());
    }
    const std::lock_guard lock(mutex_);
    certificates_[name] = std::move(credential);
}

void AutoTls::drop_certificate(const std::string& name) {
    const std::lock_guard lock(mutex_);
    certificates_.erase(name);
}

void AutoTls::offer_http01(const std::string& token, const std::string& key_authorization) {
    const std::lock_guard lock(mutex_);
    http01_[token] = key_authorization;
}

void AutoTls::withdraw_http01(const std::string& token) {
    const std::lock_guard lock(mutex_);
    http01_.erase(token);
}

void AutoTls::offer_tls_alpn01(const std::string& name, const acme::ChallengeCertificate& certificate) {
    Context context = new_server_context();
    SSL_CTX_set_alpn_select_cb(context.get(), select_acme_tls, nullptr);
    if (SSL_CTX_use_certificate(context.get(), certificate.certificate.get()) != 1 ||
        SSL_CTX_use_PrivateKey(context.get(), certificate.key.get()) != 1) {
        throw std::runtime_error("the TLS-ALPN-01 certificate for " + name + " cannot be used: " + openssl_error());
    }
    const std::lock_guard lock(mutex_);
    tls_alpn01_[name] = std::move(context);
}

void AutoTls::withdraw_tls_alpn01(const std::string& name) {
    const std::lock_guard lock(mutex_);
    tls_alpn01_.erase(name);
}

std::shared_ptr<SSL_CTX> AutoTls::certificate(const std::string& name) const {
    const std::lock_guard lock(mutex_);
    return certificates_.contains(name) ? shared_ : nullptr;
}

std::shared_ptr<SSL_CTX> AutoTls::tls_alpn01(const std::string& name) const {
    const std::lock_guard lock(mutex_);
    const auto found = tls_alpn01_.find(name);
    return found == tls_alpn01_.end() ? nullptr : found->second;
}

std::optional<std::string> AutoTls::http01(std::string_view token) const {
    const std::lock_guard lock(mutex_);
    const auto found = http01_.find(std::string(token));
    if (found == http01_.end()) return std::nullopt;
    return found->second;
}

void AutoTls::request_on_demand(const std::string& name, const std::string& site, std::function<void(bool)> done) const {
    if (on_demand_) {
        on_demand_(name, site, std::move(done));
    } else {
        done(false);
    }
}

}  // namespace vhostd::server
