#include "conf/certificate_check.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace vhostd::conf {

namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using PrivateKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

// Never asked: a key with a passphrase fails to load instead of prompting on a terminal.
int no_passphrase(char*, int, int, void*) { return -1; }

Bio open_file(const std::string& path, std::string& problem) {
    Bio bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
    if (!bio) {
        const int error = errno;
        ERR_clear_error();
        problem = "cannot read \"" + path + "\": " + std::strerror(error != 0 ? error : EIO);
    }
    return bio;
}

}  // namespace

CertificateProblems check_certificate(const std::string& cert_path, const std::string& key_path) {
    CertificateProblems problems;
    X509Ptr leaf(nullptr, &X509_free);
    if (Bio bio = open_file(cert_path, problems.cert)) {
        leaf.reset(PEM_read_bio_X509_AUX(bio.get(), nullptr, no_passphrase, nullptr));
        if (!leaf) problems.cert = "\"" + cert_path + "\" holds no PEM certificate";
        // The rest of the chain must parse too, or the handshake would send half of it.
        while (leaf) {
            X509Ptr next(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr), &X509_free);
            if (next) continue;
            const unsigned long error = ERR_peek_last_error();
            if (ERR_GET_LIB(error) != ERR_LIB_PEM || ERR_GET_REASON(error) != PEM_R_NO_START_LINE) {
                problems.cert = "\"" + cert_path + "\": a certificate after the first one cannot be read";
                leaf.reset();
            }
            break;
        }
        ERR_clear_error();
    }
    if (Bio bio = open_file(key_path, problems.key)) {
        PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr), &EVP_PKEY_free);
        ERR_clear_error();
        if (!key) {
            problems.key = "\"" + key_path + "\" holds no unencrypted PEM private key";
        } else if (leaf && X509_check_private_key(leaf.get(), key.get()) != 1) {
            problems.key = "\"" + key_path + "\" does not match the certificate in \"" + cert_path + "\"";
        }
        ERR_clear_error();
    }
    return problems;
}

}  // namespace vhostd::conf
