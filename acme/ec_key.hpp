// An ECDSA P-256 key: the ACME account's (ES256, RFC 7518 §3.4) and each certificate's. Its
// PEM is written only to the state directory, never to a log line or an error message.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

using EVP_PKEY = struct evp_pkey_st;

namespace vhostd::acme {

class EcKey {
public:
    static EcKey generate();
    // nullopt, and why in `problem` (without any of the key), when `pem` is not a P-256
    // private key.
    static std::optional<EcKey> from_pem(std::string_view pem, std::string& problem);

    // PKCS #8, unencrypted.
    std::string private_pem() const;
    // The public key as a JWK (RFC 7517), its members in the order RFC 7638 hashes them.
    std::string jwk() const;
    // RFC 7638: base64url(SHA-256(jwk())), the account's part of a key authorization.
    std::string thumbprint() const;
    // ES256 over `input`: r and s, 32 bytes each (RFC 7518 §3.4), not DER.
    std::string sign(std::string_view input) const;

    EVP_PKEY* get() const { return key_.get(); }

private:
    struct Free {
        void operator()(EVP_PKEY* key) const;
    };
    explicit EcKey(EVP_PKEY* key) : key_(key) {}
    std::unique_ptr<EVP_PKEY, Free> key_;
};

}  // namespace vhostd::acme
