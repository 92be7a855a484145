// base64url without padding: RFC 4648's test vectors, and the texts no encoding produces.
#include "acme/base64url.hpp"

#include <gtest/gtest.h>

namespace vhostd::acme {
namespace {

TEST(Base64url, EncodesTheRfc4648VectorsWithoutPadding) {
    EXPECT_EQ(base64url(""), "");
    EXPECT_EQ(base64url("f"), "Zg");
    EXPECT_EQ(base64url("fo"), "Zm8");
    EXPECT_EQ(base64url("foo"), "Zm9v");
    EXPECT_EQ(base64url("foob"), "Zm9vYg");
    EXPECT_EQ(base64url("fooba"), "Zm9vYmE");
    EXPECT_EQ(base64url("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64url("\xfb\xff\xbf"), "-_-_") << "the URL-safe alphabet";
}

TEST(Base64url, DecodesWhatItEncodes) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) {
        bytes += static_cast<char>(i);
        EXPECT_EQ(from_base64url(base64url(bytes)), bytes);
    }
}

TEST(Base64url, RefusesPaddingForeignCharactersAndImpossibleLengths) {
    EXPECT_EQ(from_base64url("Zg=="), std::nullopt);
    EXPECT_EQ(from_base64url("Zm9v+A"), std::nullopt);
    EXPECT_EQ(from_base64url("Zm9v/A"), std::nullopt);
    EXPECT_EQ(from_base64url("Z"), std::nullopt);
    EXPECT_EQ(from_base64url("Zh"), std::nullopt) << "bits left over must be zero";
}

}  // namespace
}  // namespace vhostd::acme
