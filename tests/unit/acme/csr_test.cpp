// The request an order is finalized with, read back as a CA reads it.
#include "acme/csr.hpp"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace vhostd::acme {
namespace {

using Request = std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)>;

Request read(const std::string& der) {
    const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
    return Request(d2i_X509_REQ(nullptr, &cursor, static_cast<long>(der.size())), X509_REQ_free);
}

std::vector<std::string> alt_names(X509_REQ* request) {
    std::vector<std::string> names;
    STACK_OF(X509_EXTENSION)* extensions = X509_REQ_get_extensions(request);
    for (int i = 0; i < sk_X509_EXTENSION_num(extensions); ++i) {
        X509_EXTENSION* extension = sk_X509_EXTENSION_value(extensions, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(extension)) != NID_subject_alt_name) continue;
        auto* general_names = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(extension));
        for (int j = 0; j < sk_GENERAL_NAME_num(general_names); ++j) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(general_names, j);
            if (name->type != GEN_DNS) continue;
            names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                               static_cast<std::size_t>(ASN1_STRING_length(name->d.dNSName)));
        }
        GENERAL_NAMES_free(general_names);
    }
    sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
    return names;
}

TEST(CertificateRequest, NamesEveryHostAndIsSignedByTheCertificatesKey) {
    const EcKey key = EcKey::generate();
    const Request request = read(certificate_request(key, {"shop.example", "www.shop.example"}));
    ASSERT_TRUE(request);
    EXPECT_EQ(X509_REQ_verify(request.get(), key.get()), 1);
    EXPECT_EQ(X509_REQ_verify(request.get(), EcKey::generate().get()), 0) << "another key must not verify";
    EXPECT_EQ(alt_names(request.get()), (std::vector<std::string>{"shop.example", "www.shop.example"}));
    char common_name[256] = {};
    X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(request.get()), NID_commonName, common_name, sizeof common_name);
    EXPECT_STREQ(common_name, "shop.example");
}

TEST(CertificateRequest, ALongFirstNameIsLeftOutOfTheSubjectOnly) {
    const std::string long_name = std::string(60, 'a') + ".example";
    const Request request = read(certificate_request(EcKey::generate(), {long_name}));
    ASSERT_TRUE(request);
    EXPECT_EQ(X509_NAME_entry_count(X509_REQ_get_subject_name(request.get())), 0);
    EXPECT_EQ(alt_names(request.get()), (std::vector<std::string>{long_name}));
}

TEST(CertificateRequest, NeedsAName) {
    EXPECT_THROW(certificate_request(EcKey::generate(), {}), std::invalid_argument);
}

}  // namespace
}  // namespace vhostd::acme
