// Checks a certificate/key pair the way the TLS front will load it, so that `vhostd --check`
// and a reload refuse a bad file before anything is served with it.
#pragma once

#include <string>

namespace vhostd::conf {

struct CertificateProblems {
    std::string cert;  // empty when the chain file is fine
    std::string key;   // empty when the key file is fine and matches the certificate
};

// Reads the PEM chain at `cert_path` (the first certificate is the leaf) and the PEM private
// key at `key_path`; unencrypted keys only, since vhostd starts unattended.
CertificateProblems check_certificate(const std::string& cert_path, const std::string& key_path);

}  // namespace vhostd::conf
