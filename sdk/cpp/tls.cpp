#include "sdk/cpp/tls.hpp"

#include "protocol/environment.hpp"
#include "protocol/tls_defaults.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <array>
#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vhostd::sdk {

namespace asio = boost::asio;

namespace {

std::vector<std::string> path_list(const char* variable) {
    std::vector<std::string> paths;
    const char* value = std::getenv(variable);
    if (value == nullptr) return paths;
    std::string_view rest(value);
    while (!rest.empty()) {
        const auto colon = rest.find(':');
        if (colon != 0) paths.emplace_back(rest.substr(0, colon));
        if (colon == std::string_view::npos) break;
        rest.remove_prefix(colon + 1);
    }
    return paths;
}

// The site's session ticket key, when vhostd gave one: every worker of the site then
// decrypts the tickets any of them issued (else each would have its own random key, and a
// client resumes only when it reaches the same worker again).
void use_shared_ticket_key(SSL_CTX* ctx) {
    const char* hex = std::getenv(protocol::env_tls_ticket_key);
    if (hex == nullptr || *hex == '\0') return;
    const auto refuse = [] { return std::runtime_error(std::string(protocol::env_tls_ticket_key) + " is not hex of the key OpenSSL takes"); };
    const std::string_view text(hex);
    const long wanted = SSL_CTX_get_tlsext_ticket_keys(ctx, nullptr, 0);
    if (wanted <= 0 || text.size() != 2 * protocol::tls_ticket_key_bytes || static_cast<std::size_t>(wanted) != protocol::tls_ticket_key_bytes) {
        throw refuse();
    }
    std::array<unsigned char, protocol::tls_ticket_key_bytes> key;
    for (std::size_t i = 0; i < key.size(); ++i) {
        const auto [end, error] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, key[i], 16);
        if (error != std::errc{} || end != text.data() + 2 * i + 2) throw refuse();
    }
    if (SSL_CTX_set_tlsext_ticket_keys(ctx, key.data(), static_cast<long>(key.size())) != 1) throw refuse();
    OPENSSL_cleanse(key.data(), key.size());
}

}  // namespace

bool has_tls_certificates() { return !path_list(protocol::env_tls_certs).empty(); }

asio::ssl::context server_tls_context() {
    const std::vector<std::string> certs = path_list(protocol::env_tls_certs);
    const std::vector<std::string> keys = path_list(protocol::env_tls_keys);
    if (certs.empty() || certs.size() != keys.size()) {
        throw std::runtime_error(std::string(protocol::env_tls_certs) + " and " + protocol::env_tls_keys +
                                 " must name as many certificates as keys");
    }
    asio::ssl::context context(asio::ssl::context::tls_server);
    SSL_CTX* ctx = context.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx, protocol::tls12_ciphers);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_alpn_select_cb(ctx, protocol::select_http11, nullptr);
    use_shared_ticket_key(ctx);
    for (std::size_t i = 0; i < certs.size(); ++i) {
        boost::system::error_code ec;
        context.use_certificate_chain_file(certs[i], ec);
        if (ec) throw std::runtime_error("cannot load certificate " + certs[i] + ": " + ec.message());
        context.use_private_key_file(keys[i], asio::ssl::context::pem, ec);
        if (ec) throw std::runtime_error("cannot load key " + keys[i] + ": " + ec.message());
    }
    return context;
}

}  // namespace vhostd::sdk
