#include "acme/certificate_facts.hpp"

#include "acme/base64url.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <memory>

namespace vhostd::acme {

namespace {

struct Free {
    void operator()(BIO* bio) const { BIO_free(bio); }
    void operator()(X509* certificate) const { X509_free(certificate); }
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
    void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
    void operator()(BIGNUM* number) const { BN_free(number); }
    void operator()(char* text) const { OPENSSL_free(text); }
};

std::unique_ptr<BIO, Free> memory_bio(std::string_view pem) {
    return std::unique_ptr<BIO, Free>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::unique_ptr<X509, Free> read_leaf(std::string_view chain_pem) {
    auto bio = memory_bio(chain_pem);
    std::unique_ptr<X509, Free> leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    return leaf;
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* time) {
    std::tm parts{};
    if (ASN1_TIME_to_tm(time, &parts) != 1) return {};
    return std::chrono::system_clock::from_time_t(::timegm(&parts));
}

std::string issuer_of(X509* certificate) {
    X509_NAME* issuer = X509_get_issuer_name(certificate);
    char text[256] = {};
    if (X509_NAME_get_text_by_NID(issuer, NID_commonName, text, sizeof text) > 0) return text;
    std::unique_ptr<char, Free> whole(X509_NAME_oneline(issuer, nullptr, 0));
    return whole ? std::string(whole.get()) : std::string();
}

std::vector<std::string> dns_names(X509* certificate) {
    std::vector<std::string> names;
    std::unique_ptr<GENERAL_NAMES, Free> all(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr)));
    for (int i = 0; all && i < sk_GENERAL_NAME_num(all.get()); ++i) {
        const GENERAL_NAME* entry = sk_GENERAL_NAME_value(all.get(), i);
        if (entry->type != GEN_DNS) continue;
        const ASN1_IA5STRING* text = entry->d.dNSName;
        names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)), static_cast<std::size_t>(ASN1_STRING_length(text)));
    }
    return names;
}

}  // namespace

std::optional<CertificateFacts> read_certificate_facts(std::string_view chain_pem, std::string& problem) {
    const auto leaf = read_leaf(chain_pem);
    if (!leaf) {
        problem = "no PEM certificate in it";
        return std::nullopt;
    }
    CertificateFacts facts{to_time_point(X509_get0_notBefore(leaf.get())), to_time_point(X509_get0_notAfter(leaf.get())),
                           issuer_of(leaf.get()), {}, dns_names(leaf.get()), {}};
    std::unique_ptr<BIGNUM, Free> serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr));
    if (serial) {
        std::unique_ptr<char, Free> hex(BN_bn2hex(serial.get()));
        if (hex) facts.serial = hex.get();
        const ASN1_OCTET_STRING* key_identifier = X509_get0_authority_key_id(leaf.get());
        if (key_identifier != nullptr) {
            std::string magnitude(static_cast<std::size_t>(BN_num_bytes(serial.get())), '\0');
            BN_bn2bin(serial.get(), reinterpret_cast<unsigned char*>(magnitude.data()));
            facts.renewal_id = renewal_certificate_id(
                {reinterpret_cast<const char*>(ASN1_STRING_get0_data(key_identifier)), static_cast<std::size_t>(ASN1_STRING_length(key_identifier))},
                magnitude);
        }
    }
    return facts;
}

std::string renewal_certificate_id(std::string_view key_identifier, std::string_view serial_magnitude) {
    // The serial as DER encodes it: a leading zero byte when the top bit is set (a
    // positive INTEGER), and one zero byte for the serial 0.
    std::string serial;
    if (serial_magnitude.empty() || (static_cast<unsigned char>(serial_magnitude.front()) & 0x80) != 0) serial.push_back('\0');
    serial.append(serial_magnitude);
    return base64url(key_identifier) + "." + base64url(serial);
}

std::string check_certificate_pair(std::string_view chain_pem, std::string_view key_pem, const std::string& name) {
    const auto leaf = read_leaf(chain_pem);
    if (!leaf) return "the chain holds no PEM certificate";
    const std::vector<std::string> names = dns_names(leaf.get());
    if (std::find(names.begin(), names.end(), name) == names.end()) return "the certificate is not for " + name;
    auto bio = memory_bio(key_pem);
    std::unique_ptr<EVP_PKEY, Free> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    if (!key) return "the key file holds no PEM private key";
    if (X509_check_private_key(leaf.get(), key.get()) != 1) {
        ERR_clear_error();
        return "the key does not belong to the certificate";
    }
    return {};
}

}  // namespace vhostd::acme
