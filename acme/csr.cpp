#include "acme/csr.hpp"

#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace vhostd::acme {

std::string certificate_request(const EcKey& certificate_key, const std::vector<std::string>& names) {
    if (names.empty()) throw std::invalid_argument("a certificate request needs a name");
    std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> request(X509_REQ_new(), X509_REQ_free);
    if (!request || X509_REQ_set_version(request.get(), 0) != 1) throw std::runtime_error("cannot make a certificate request");

    if (names.front().size() <= 64) {
        X509_NAME* subject = X509_REQ_get_subject_name(request.get());
        if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(names.front().c_str()),
                                       -1, -1, 0) != 1) {
            throw std::runtime_error("cannot set a certificate request's name");
        }
    }
    // Built as GENERAL_NAMEs, not from a "DNS:a,DNS:b" text that a name could add to.
    std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)> alt_names(sk_GENERAL_NAME_new_null(), GENERAL_NAMES_free);
    for (const std::string& name : names) {
        GENERAL_NAME* entry = GENERAL_NAME_new();
        ASN1_IA5STRING* text = ASN1_IA5STRING_new();
        if (!entry || !text || ASN1_STRING_set(text, name.data(), static_cast<int>(name.size())) != 1) {
            GENERAL_NAME_free(entry);
            ASN1_IA5STRING_free(text);
            throw std::runtime_error("cannot add a name to a certificate request");
        }
        GENERAL_NAME_set0_value(entry, GEN_DNS, text);
        if (sk_GENERAL_NAME_push(alt_names.get(), entry) == 0) {
            GENERAL_NAME_free(entry);
            throw std::runtime_error("cannot add a name to a certificate request");
        }
    }
    std::unique_ptr<STACK_OF(X509_EXTENSION), void (*)(STACK_OF(X509_EXTENSION)*)> extensions(
        sk_X509_EXTENSION_new_null(), [](STACK_OF(X509_EXTENSION)* stack) { sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free); });
    X509_EXTENSION* san = X509V3_EXT_i2d(NID_subject_alt_name, 0, alt_names.get());
    if (!extensions || !san || sk_X509_EXTENSION_push(extensions.get(), san) == 0) {
        X509_EXTENSION_free(san);
        throw std::runtime_error("cannot add the names to a certificate request");
    }
    if (X509_REQ_add_extensions(request.get(), extensions.get()) != 1 ||
        X509_REQ_set_pubkey(request.get(), certificate_key.get()) != 1 ||
        X509_REQ_sign(request.get(), certificate_key.get(), EVP_sha256()) <= 0) {
        throw std::runtime_error("cannot sign a certificate request");
    }
    unsigned char* der = nullptr;
    const int length = i2d_X509_REQ(request.get(), &der);
    if (length <= 0) throw std::runtime_error("cannot encode a certificate request");
    std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
    return bytes;
}

}  // namespace vhostd::acme
