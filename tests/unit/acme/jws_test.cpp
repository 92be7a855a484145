// The ES256 key and the signed requests, checked by decoding them and verifying the
// signature with OpenSSL itself, as an ACME server would.
#include "acme/base64url.hpp"
#include "acme/jws.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <gtest/gtest.h>

#include <memory>

namespace vhostd::acme {
namespace {

namespace json = boost::json;

// What a server does with a JWS: r || s back to DER, and a verification with the key.
bool verifies(const EcKey& key, const std::string& signing_input, const std::string& raw_signature) {
    if (raw_signature.size() != 64) return false;
    ECDSA_SIG* signature = ECDSA_SIG_new();
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw_signature.data());
    ECDSA_SIG_set0(signature, BN_bin2bn(bytes, 32, nullptr), BN_bin2bn(bytes + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int der_length = i2d_ECDSA_SIG(signature, &der);
    ECDSA_SIG_free(signature);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const bool ok = EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
                    EVP_DigestVerify(context.get(), der, static_cast<std::size_t>(der_length),
                                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
    OPENSSL_free(der);
    return ok;
}

TEST(EcKey, ItsJwkHasTheMembersRfc7638HashesInOrder) {
    const EcKey key = EcKey::generate();
    const json::object jwk = json::parse(key.jwk()).as_object();
    EXPECT_EQ(jwk.at("kty"), "EC");
    EXPECT_EQ(jwk.at("crv"), "P-256");
    EXPECT_EQ(from_base64url(json::value_to<std::string>(jwk.at("x")))->size(), 32u);
    EXPECT_EQ(from_base64url(json::value_to<std::string>(jwk.at("y")))->size(), 32u);
    EXPECT_TRUE(key.jwk().starts_with(R"({"crv":"P-256","kty":"EC","x":")"));
    EXPECT_EQ(key.jwk().find(' '), std::string::npos) << "no whitespace in the hashed form";
}

TEST(EcKey, TheThumbprintIsTheSha256OfTheJwk) {
    const EcKey key = EcKey::generate();
    const std::string jwk = key.jwk();
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(jwk.data()), jwk.size(), digest);
    EXPECT_EQ(key.thumbprint(), base64url(std::string(reinterpret_cast<const char*>(digest), sizeof digest)));
    EXPECT_EQ(key.thumbprint().size(), 43u);
    EXPECT_NE(EcKey::generate().thumbprint(), key.thumbprint());
}

TEST(EcKey, ComesBackFromItsPemAsTheSameKey) {
    const EcKey key = EcKey::generate();
    std::string problem;
    const auto again = EcKey::from_pem(key.private_pem(), problem);
    ASSERT_TRUE(again) << problem;
    EXPECT_EQ(again->thumbprint(), key.thumbprint());
    EXPECT_TRUE(key.private_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
}

TEST(EcKey, RefusesWhatIsNotAP256KeyWithoutQuotingIt) {
    std::string problem;
    EXPECT_FALSE(EcKey::from_pem("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n", problem));
    EXPECT_EQ(problem, "not a PEM private key");
    EVP_PKEY* p384 = EVP_EC_gen("P-384");
    std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PrivateKey(out.get(), p384, nullptr, nullptr, 0, nullptr, nullptr);
    EVP_PKEY_free(p384);
    char* data = nullptr;
    const long length = BIO_get_mem_data(out.get(), &data);
    EXPECT_FALSE(EcKey::from_pem(std::string(data, static_cast<std::size_t>(length)), problem));
    EXPECT_EQ(problem, "not a P-256 (prime256v1) EC key");
}

TEST(SignRequest, ANewAccountCarriesTheKeyAndAVerifiableSignature) {
    const EcKey key = EcKey::generate();
    const std::string body = sign_request(key, {.url = "https://ca.test/new-account", .nonce = "n0nce", .kid = ""},
                                          R"({"termsOfServiceAgreed":true})");
    const json::object jws = json::parse(body).as_object();
    const std::string encoded_header = json::value_to<std::string>(jws.at("protected"));
    const std::string encoded_payload = json::value_to<std::string>(jws.at("payload"));
    const json::object header = json::parse(*from_base64url(encoded_header)).as_object();
    EXPECT_EQ(header.at("alg"), "ES256");
    EXPECT_EQ(header.at("nonce"), "n0nce");
    EXPECT_EQ(header.at("url"), "https://ca.test/new-account");
    EXPECT_EQ(header.at("jwk"), json::parse(key.jwk()));
    EXPECT_FALSE(header.contains("kid")) << "jwk and kid are exclusive (RFC 8555 §6.2)";
    EXPECT_EQ(*from_base64url(encoded_payload), R"({"termsOfServiceAgreed":true})");
    EXPECT_TRUE(verifies(key, encoded_header + "." + encoded_payload, *from_base64url(json::value_to<std::string>(jws.at("signature")))));
}

TEST(SignRequest, LaterRequestsNameTheAccountAndAPostAsGetHasAnEmptyPayload) {
    const EcKey key = EcKey::generate();
    const json::object jws = json::parse(sign_request(key, {.url = "https://ca.test/order/1", .nonce = "n", .kid = "https://ca.test/acct/7"}, "")).as_object();
    const json::object header = json::parse(*from_base64url(json::value_to<std::string>(jws.at("protected")))).as_object();
    EXPECT_EQ(header.at("kid"), "https://ca.test/acct/7");
    EXPECT_FALSE(header.contains("jwk"));
    EXPECT_EQ(jws.at("payload"), "");
    EXPECT_TRUE(verifies(key, json::value_to<std::string>(jws.at("protected")) + ".",
                         *from_base64url(json::value_to<std::string>(jws.at("signature")))));
    EXPECT_FALSE(verifies(EcKey::generate(), json::value_to<std::string>(jws.at("protected")) + ".",
                          *from_base64url(json::value_to<std::string>(jws.at("signature"))))) << "another key must not verify";
}

TEST(KeyAuthorization, IsTheTokenAndTheAccountsThumbprint) {
    const EcKey key = EcKey::generate();
    EXPECT_EQ(key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", key),
              "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA." + key.thumbprint());
}

}  // namespace
}  // namespace vhostd::acme
