#include "acme/ec_key.hpp"

#include "acme/base64url.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace vhostd::acme {

namespace {

constexpr int coordinate_size = 32;  // P-256

std::string coordinate(EVP_PKEY* key, const char* name) {
    BIGNUM* number = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &number) != 1) throw std::runtime_error("cannot read an EC public key");
    std::string bytes(coordinate_size, '\0');
    const int written = BN_bn2binpad(number, reinterpret_cast<unsigned char*>(bytes.data()), coordinate_size);
    BN_free(number);
    if (written != coordinate_size) throw std::runtime_error("an EC coordinate longer than P-256's");
    return bytes;
}

bool is_p256(EVP_PKEY* key) {
    char group[64] = {};
    std::size_t length = 0;
    return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
           EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &length) == 1 &&
           std::string_view(group, length) == "prime256v1";
}

}  // namespace

void EcKey::Free::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

EcKey EcKey::generate() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    if (!key) throw std::runtime_error("cannot generate a P-256 key");
    return EcKey(key);
}

std::optional<EcKey> EcKey::from_pem(std::string_view pem, std::string& problem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    EVP_PKEY* key = in ? PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr) : nullptr;
    ERR_clear_error();  // the queue would name the file's bytes nowhere, but keep it empty
    if (!key) {
        problem = "not a PEM private key";
        return std::nullopt;
    }
    EcKey result(key);
    if (!is_p256(key)) {
        problem = "not a P-256 (prime256v1) EC key";
        return std::nullopt;
    }
    return result;
}

std::string EcKey::private_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
    if (!out || PEM_write_bio_PrivateKey(out.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        throw std::runtime_error("cannot write a private key");
    }
    char* data = nullptr;
    const long length = BIO_get_mem_data(out.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

std::string EcKey::jwk() const {
    return R"({"crv":"P-256","kty":"EC","x":")" + base64url(coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X)) +
           R"(","y":")" + base64url(coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y)) + R"("})";
}

std::string EcKey::thumbprint() const {
    const std::string text = jwk();
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    return base64url(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string EcKey::sign(std::string_view input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::size_t length = 0;
    if (!context || EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(context.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
        throw std::runtime_error("cannot sign with the account key");
    }
    std::string der(length, '\0');
    if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(der.data()), &length,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
        throw std::runtime_error("cannot sign with the account key");
    }
    // OpenSSL gives an ECDSA-Sig-Value in DER; JWS wants r and s side by side.
    const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> signature(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(length)),
                                                                    ECDSA_SIG_free);
    if (!signature) throw std::runtime_error("cannot read an ECDSA signature");
    std::string raw(2 * coordinate_size, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    if (BN_bn2binpad(ECDSA_SIG_get0_r(signature.get()), out, coordinate_size) != coordinate_size ||
        BN_bn2binpad(ECDSA_SIG_get0_s(signature.get()), out + coordinate_size, coordinate_size) != coordinate_size) {
        throw std::runtime_error("an ECDSA signature longer than P-256's");
    }
    return raw;
}

}  // namespace vhostd::acme
