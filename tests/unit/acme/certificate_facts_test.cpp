// What vhostd reads of a chain it holds, and whether a key and a name belong to it
// (acme/certificate_facts.hpp). The certificates are made here, with OpenSSL.
#include "acme/certificate_facts.hpp"

#include "acme/challenge_certificate.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

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
