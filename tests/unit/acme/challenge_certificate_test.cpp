// The TLS-ALPN-01 certificate, read back as a validation server checks it (RFC 8737 §3):
// one DNS name, the critical acmeIdentifier with SHA-256 of the key authorization, and a
// signature by its own key.
#include "acme/challenge_certificate.hpp"

#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>

#include <string>

namespace vhostd::acme {
namespace {

TEST(TlsAlpnCertificate, CarriesTheNameAndTheKeyAuthorizationsDigest) {
    const std::string key_authorization = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
    const ChallengeCertificate challenge = tls_alpn_certificate("shop.example", key_authorization);
    X509* certificate = challenge.certificate.get();
    ASSERT_NE(certificate, nullptr);
    EXPECT_EQ(X509_verify(certificate, challenge.key.get()), 1);
    EXPECT_EQ(X509_check_host(certificate, "shop.example", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_host(certificate, "other.example", 0, 0, nullptr), 0);

    ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    const int index = X509_get_ext_by_OBJ(certificate, oid, -1);
    ASN1_OBJECT_free(oid);
    ASSERT_GE(index, 0) << "no acmeIdentifier";
    X509_EXTENSION* extension = X509_get_ext(certificate, index);
    EXPECT_EQ(X509_EXTENSION_get_critical(extension), 1);
    const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(extension);
    const unsigned char* cursor = ASN1_STRING_get0_data(value);
    ASN1_OCTET_STRING* inner = d2i_ASN1_OCTET_STRING(nullptr, &cursor, ASN1_STRING_length(value));
    ASSERT_NE(inner, nullptr) << "the value is a DER OCTET STRING";
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(key_authorization.data()), key_authorization.size(), digest);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(inner)), static_cast<std::size_t>(ASN1_STRING_length(inner))),
              std::string(reinterpret_cast<const char*>(digest), sizeof digest));
    ASN1_OCTET_STRING_free(inner);
}

TEST(TlsAlpnCertificate, EachIsItsOwn) {
    const ChallengeCertificate first = tls_alpn_certificate("a.example", "t.k");
    const ChallengeCertificate second = tls_alpn_certificate("a.example", "t.k");
    EXPECT_NE(ASN1_INTEGER_cmp(X509_get_serialNumber(first.certificate.get()), X509_get_serialNumber(second.certificate.get())), 0);
    EXPECT_NE(first.key.thumbprint(), second.key.thumbprint());
}

}  // namespace
}  // namespace vhostd::acme
