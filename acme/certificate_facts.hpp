// What vhostd needs to know of a certificate chain it holds: the leaf's lifetime, issuer and
// names, and whether a key and a name belong to it. Pure (PEM text in); used for the chain a
// CA just sent and for the files found in the state directory at start.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vhostd::acme {

struct CertificateFacts {
    std::chrono::system_clock::time_point not_before;
    std::chrono::system_clock::time_point not_after;
    std::string issuer;   // the issuer's CN (or its whole name when it has none)
    std::string serial;   // hex
    std::vector<std::string> names;  // its DNS subjectAltNames
    // Its ACME Renewal Information CertID (RFC 9773 §4.1): the authority key identifier and
    // the serial's DER bytes, each base64url, joined by a dot. Empty without an AKI.
    std::string renewal_id;
};

// The CertID from the raw bytes of a keyIdentifier and a serial's big-endian magnitude.
std::string renewal_certificate_id(std::string_view key_identifier, std::string_view serial_magnitude);

// The leaf's facts, or nullopt with `problem` set when `chain_pem` holds no certificate.
std::optional<CertificateFacts> read_certificate_facts(std::string_view chain_pem, std::string& problem);

// Empty when the chain's leaf is for `name` (subjectAltName, exact) and fits `key_pem`;
// otherwise why not, without quoting either.
std::string check_certificate_pair(std::string_view chain_pem, std::string_view key_pem, const std::string& name);

}  // namespace vhostd::acme
