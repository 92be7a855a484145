// What every TLS end of vhostd shares (the front in terminate mode, a worker's SDK in
// passthrough mode), so that a site behaves the same in both modes. Header-only: both sides
// link OpenSSL already.
#pragma once

#include <openssl/ssl.h>

namespace vhostd::protocol {

// TLS 1.2 suites with forward secrecy and AEAD only (Mozilla's "intermediate" list without
// DHE); TLS 1.3 keeps OpenSSL's defaults, which are all modern.
inline constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// For SSL_CTX_set_alpn_select_cb: HTTP/1.1, since that is what workers speak. A client that
// offers only other protocols (h2 alone) goes on without ALPN instead of failing, and then
// speaks HTTP/1.1.
inline int select_http11(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                         unsigned int offered_length, void*) {
    static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, http11, sizeof http11, offered, offered_length) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace vhostd::protocol
