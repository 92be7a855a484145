#include "server/tls_contexts.hpp"

#include "protocol/tls_defaults.hpp"

#include <openssl/err.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace vhostd::server {

std::string openssl_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

namespace {

int refuse_unknown_name(SSL*, int* alert, void*) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
}

}  // namespace

std::shared_ptr<SSL_CTX> new_server_context() {
    std::shared_ptr<SSL_CTX> context(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
    if (!context) throw std::runtime_error("cannot create a TLS context: " + openssl_error());
    SSL_CTX* ctx = context.get();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx, protocol::tls12_ciphers);
    // No renegotiation (a CPU sink for attackers); a client's EOF without close_notify is
    // an ordinary end of stream, as for every HTTP server.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
    // Idle relays give their record buffers back; writes may be partial and retried from a
    // buffer that moved (the relay resumes where a partial write left off).
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_alpn_select_cb(ctx, protocol::select_http11, nullptr);
    static const unsigned char session_context[] = "vhostd";
    SSL_CTX_set_session_id_context(ctx, session_context, sizeof session_context - 1);
    return context;
}

namespace {

std::shared_ptr<SSL_CTX> site_context(const conf::Site& site) {
    auto context = new_server_context();
    for (const conf::Certificate& certificate : site.certificates) {
        // One chain and key per key type (RSA, ECDSA): OpenSSL picks what the client supports.
        if (SSL_CTX_use_certificate_chain_file(context.get(), certificate.cert.c_str()) != 1) {
            throw std::runtime_error("site " + site.name + ": cannot load certificate \"" + certificate.cert + "\": " + openssl_error());
        }
        if (SSL_CTX_use_PrivateKey_file(context.get(), certificate.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(context.get()) != 1) {
            throw std::runtime_error("site " + site.name + ": cannot use key \"" + certificate.key + "\": " + openssl_error());
        }
    }
    return context;
}

}  // namespace

TlsContexts::TlsContexts(const std::vector<conf::Site>& sites, std::optional<std::size_t> default_site) {
    by_site_.reserve(sites.size());
    for (const conf::Site& site : sites) by_site_.push_back(site.certificates.empty() ? nullptr : site_context(site));
    if (default_site && by_site_[*default_site]) {
        fallback_ = by_site_[*default_site];
        fallback_site_ = default_site;
    } else {
        fallback_ = new_server_context();
        SSL_CTX_set_client_hello_cb(fallback_.get(), refuse_unknown_name, nullptr);
    }
}

TlsContexts::Choice TlsContexts::choose(std::optional<std::size_t> site) const {
    if (site && *site < by_site_.size() && by_site_[*site]) return {by_site_[*site].get(), site};
    return {fallback_.get(), fallback_site_};
}

}  // namespace vhostd::server
