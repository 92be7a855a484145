// The signed requests of ACME (RFC 8555 §6.2): a flattened JWS JSON serialization
// (RFC 7515 §7.2.2), ES256, with the nonce and URL in its protected header and either the
// account key itself (new account) or the account URL (every other request).
#pragma once

#include "acme/ec_key.hpp"

#include <string>
#include <string_view>

namespace vhostd::acme {

struct JwsHeader {
    std::string_view url;    // the request's URL, exactly
    std::string_view nonce;  // from the last Replay-Nonce
    std::string_view kid;    // the account URL; empty: embed the key as "jwk" (newAccount)
};

// The request body. `payload` is the JSON text to send; an empty one is a POST-as-GET
// (RFC 8555 §6.3), whose payload is the empty string.
std::string sign_request(const EcKey& key, const JwsHeader& header, std::string_view payload);

// RFC 8555 §8.1: token "." thumbprint; what HTTP-01 answers, and what TLS-ALPN-01 hashes.
std::string key_authorization(std::string_view token, const EcKey& account_key);

}  // namespace vhostd::acme
