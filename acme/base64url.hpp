// base64url without padding (RFC 4648 §5), as JWS (RFC 7515) and ACME (RFC 8555) use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vhostd::acme {

std::string base64url(std::string_view bytes);
// nullopt for a character outside the alphabet, padding, or a length no encoding has.
std::optional<std::string> from_base64url(std::string_view text);

}  // namespace vhostd::acme
