#include "acme/challenge_certificate.hpp"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdexcept>
#include <string>

namespace vhostd::acme {

namespace {

constexpr const char* acme_identifier_oid = "1.3.6.1.5.5.7.1.31";  // id-pe-acmeIdentifier

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("cannot make a TLS-ALPN-01 certificate: ") + what);
}

// The extension's value: an ASN.1 OCTET STRING of the 32-byte digest, itself DER-encoded.
X509_EXTENSION* acme_identifier(std::string_view key_authorization) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(key_authorization.data()), key_authorization.size(), digest);
    ASN1_OCTET_STRING* inner = ASN1_OCTET_STRING_new();
    check(inner && ASN1_OCTET_STRING_set(inner, digest, sizeof digest) == 1, "digest");
    unsigned char* der = nullptr;
    const int length = i2d_ASN1_OCTET_STRING(inner, &der);
    ASN1_OCTET_STRING_free(inner);
    check(length > 0, "digest encoding");
    ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
    const bool set = value && ASN1_OCTET_STRING_set(value, der, length) == 1;
    OPENSSL_free(der);
    ASN1_OBJECT* oid = OBJ_txt2obj(acme_identifier_oid, 1);
    X509_EXTENSION* extension = set && oid ? X509_EXTENSION_create_by_OBJ(nullptr, oid, 1, value) : nullptr;
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    check(extension != nullptr, "acmeIdentifier");
    return extension;
}

}  // namespace

void ChallengeCertificate::Free::operator()(X509* certificate) const { X509_free(certificate); }

ChallengeCertificate tls_alpn_certificate(std::string_view name, std::string_view key_authorization) {
    ChallengeCertificate result{std::unique_ptr<X509, ChallengeCertificate::Free>(X509_new()), EcKey::generate()};
    X509* certificate = result.certificate.get();
    check(certificate != nullptr, "X509_new");
    check(X509_set_version(certificate, 2) == 1, "version");
    unsigned char serial[16];
    check(RAND_bytes(serial, sizeof serial) == 1, "serial");
    serial[0] &= 0x7f;  // positive
    BIGNUM* number = BN_bin2bn(serial, sizeof serial, nullptr);
    const bool serial_set = number && BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nullptr;
    BN_free(number);
    check(serial_set, "serial");
    check(X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) && X509_gmtime_adj(X509_getm_notAfter(certificate), 7 * 24 * 3600),
          "validity");
    const std::string common_name(name.substr(0, 64));
    X509_NAME* subject = X509_get_subject_name(certificate);
    check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                                     0) == 1 &&
              X509_set_issuer_name(certificate, subject) == 1,
          "name");

    GENERAL_NAMES* alt_names = sk_GENERAL_NAME_new_null();
    GENERAL_NAME* entry = GENERAL_NAME_new();
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    const bool named = alt_names && entry && text && ASN1_STRING_set(text, name.data(), static_cast<int>(name.size())) == 1;
    if (named) {
        GENERAL_NAME_set0_value(entry, GEN_DNS, text);
        sk_GENERAL_NAME_push(alt_names, entry);
    } else {
        GENERAL_NAME_free(entry);
        ASN1_IA5STRING_free(text);
    }
    const bool san_added = named && X509_add1_ext_i2d(certificate, NID_subject_alt_name, alt_names, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(alt_names);
    check(san_added, "subjectAltName");

    X509_EXTENSION* identifier = acme_identifier(key_authorization);
    const bool identifier_added = X509_add_ext(certificate, identifier, -1) == 1;
    X509_EXTENSION_free(identifier);
    check(identifier_added, "acmeIdentifier");

    check(X509_set_pubkey(certificate, result.key.get()) == 1 && X509_sign(certificate, result.key.get(), EVP_sha256()) > 0, "signature");
    return result;
}

}  // namespace vhostd::acme
