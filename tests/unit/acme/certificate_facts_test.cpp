// What vhostd reads of a chain it holds, and whether a key and a name belong to it
// (acme/certificate_facts.hpp). The certificates are made here, with OpenSSL.
#include "acme/certificate_facts.hpp"

#include "acme/challenge_certificate.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>

#include <memory>

namespace vhostd::acme {
namespace {

std::string pem_of(X509* certificate) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_X509(bio.get(), certificate);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

TEST(CertificateFacts, TheLeafsLifetimeIssuerAndNames) {
    const ChallengeCertificate made = tls_alpn_certificate("shop.example", "token.thumbprint");
    std::string problem;
    const auto facts = read_certificate_facts(pem_of(made.certificate.get()) + "trailing text\n", problem);
    ASSERT_TRUE(facts) << problem;
    EXPECT_EQ(facts->names, std::vector<std::string>{"shop.example"});
    EXPECT_LT(facts->not_before, facts->not_after);
    EXPECT_FALSE(facts->issuer.empty());
    EXPECT_FALSE(facts->serial.empty());
}

// RFC 9773 §4.1's example: keyIdentifier 69:88:5B:…:D4 and serial 0x87654321, whose DER
// bytes need a leading zero because the top bit is set.
TEST(RenewalCertificateId, IsTheRfcsExample) {
    const std::string key_identifier = "\x69\x88\x5B\x6B\x87\x46\x40\x41\xE1\xB3\x7B\x84\x7B\xA0\xAE\x2C\xDE\x01\xC8\xD4";
    EXPECT_EQ(renewal_certificate_id(key_identifier, "\x87\x65\x43\x21"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    EXPECT_EQ(renewal_certificate_id(key_identifier, "\x07\x65"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.B2U");
    EXPECT_EQ(renewal_certificate_id(key_identifier, ""), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AA");
}

TEST(CertificateFacts, TheRenewalIdComesFromTheLeafsAkiAndSerial) {
    const ChallengeCertificate made = tls_alpn_certificate("shop.example", "token.thumbprint");
    X509* certificate = made.certificate.get();
    std::string problem;
    EXPECT_EQ(read_certificate_facts(pem_of(certificate), problem)->renewal_id, "") << "no AKI, no CertID";

    std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> serial(ASN1_INTEGER_new(), ASN1_INTEGER_free);
    ASN1_INTEGER_set_uint64(serial.get(), 0x87654321);
    X509_set_serialNumber(certificate, serial.get());
    std::unique_ptr<AUTHORITY_KEYID, decltype(&AUTHORITY_KEYID_free)> aki(AUTHORITY_KEYID_new(), AUTHORITY_KEYID_free);
    aki->keyid = ASN1_OCTET_STRING_new();
    const unsigned char key_identifier[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                                            0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
    ASN1_OCTET_STRING_set(aki->keyid, key_identifier, sizeof key_identifier);
    ASSERT_EQ(X509_add1_ext_i2d(certificate, NID_authority_key_identifier, aki.get(), 0, X509V3_ADD_DEFAULT), 1);
    ASSERT_GT(X509_sign(certificate, made.key.get(), EVP_sha256()), 0);
    EXPECT_EQ(read_certificate_facts(pem_of(certificate), problem)->renewal_id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

TEST(CertificateFacts, NoCertificateIsAReason) {
    std::string problem;
    EXPECT_FALSE(read_certificate_facts("<html>not pem</html>", problem));
    EXPECT_EQ(problem, "no PEM certificate in it");
}

TEST(CertificatePair, KeyAndNameMustBelong) {
    const ChallengeCertificate made = tls_alpn_certificate("shop.example", "token.thumbprint");
    const std::string chain = pem_of(made.certificate.get());
    const std::string key = made.key.private_pem();
    EXPECT_EQ(check_certificate_pair(chain, key, "shop.example"), "");
    EXPECT_EQ(check_certificate_pair(chain, key, "www.shop.example"), "the certificate is not for www.shop.example");
    EXPECT_EQ(check_certificate_pair(chain, EcKey::generate().private_pem(), "shop.example"), "the key does not belong to the certificate");
    const std::string reason = check_certificate_pair(chain, "garbage", "shop.example");
    EXPECT_EQ(reason, "the key file holds no PEM private key");
    EXPECT_EQ(check_certificate_pair("", key, "shop.example"), "the chain holds no PEM certificate");
}

}  // namespace
}  // namespace vhostd::acme
