// The certificate signing request an order is finalized with (RFC 8555 §7.4; PKCS #10,
// RFC 2986): the certificate's key, its DNS names as subjectAltName, signed with SHA-256.
#pragma once

#include "acme/ec_key.hpp"

#include <string>
#include <vector>

namespace vhostd::acme {

// DER bytes, for `{"csr": base64url(...)}`. `names` must not be empty; the first is also the
// subject's common name when it fits (64 characters), as some CAs still show it.
std::string certificate_request(const EcKey& certificate_key, const std::vector<std::string>& names);

}  // namespace vhostd::acme
