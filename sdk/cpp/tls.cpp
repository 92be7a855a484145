#include "sdk/cpp/tls.hpp"

#include "protocol/environment.hpp"
#include "protocol/tls_defaults.hpp"

#include <openssl/ssl.h>

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
