// The cookie the front picks a worker by, read from a head as a browser or a client
// library sends it.
#include "http/cookie.hpp"

#include <gtest/gtest.h>

#include <string>

namespace vhostd::http {
namespace {

std::string head_with(const std::string& fields) { return "GET /socket.io/?EIO=4 HTTP/1.1\r\nHost: a.test\r\n" + fields + "\r\n"; }

TEST(CookieValue, FindsTheNamedCookieAmongOthers) {
    const std::string head = head_with("Cookie: theme=dark; io=Zx8_aB-1; lang=en\r\n");
    EXPECT_EQ(cookie_value(head, "io"), "Zx8_aB-1");
    EXPECT_EQ(cookie_value(head, "theme"), "dark");
    EXPECT_EQ(cookie_value(head, "lang"), "en");
}

TEST(CookieValue, NamesAreCaseSensitiveAndWhole) {
    const std::string head = head_with("Cookie: IO=upper; iox=longer; xio=prefixed\r\n");
    EXPECT_EQ(cookie_value(head, "io"), std::nullopt);
    EXPECT_EQ(cookie_value(head, "IO"), "upper");
}

TEST(CookieValue, TheFieldNameIsCaseInsensitiveAndOtherFieldsDoNotCount) {
    EXPECT_EQ(cookie_value(head_with("cOOKIE: io=1\r\n"), "io"), "1");
    EXPECT_EQ(cookie_value(head_with("Set-Cookie: io=1\r\nX-Cookie: io=2\r\n"), "io"), std::nullopt);
    EXPECT_EQ(cookie_value("GET /?io=1 HTTP/1.1\r\nHost: a.test\r\n\r\n", "io"), std::nullopt) << "not in the target";
}

TEST(CookieValue, TheFirstOneWinsAcrossSeveralCookieFields) {
    const std::string head = head_with("Cookie: a=1\r\nAccept: */*\r\nCookie: io=first\r\nCookie: io=second\r\n");
    EXPECT_EQ(cookie_value(head, "io"), "first");
    EXPECT_EQ(cookie_value(head_with("Cookie: io=first; io=second\r\n"), "io"), "first");
}

TEST(CookieValue, SpacingAndQuotesAreNotPartOfTheValue) {
    EXPECT_EQ(cookie_value(head_with("Cookie:io=tight;lang=en\r\n"), "lang"), "en");
    EXPECT_EQ(cookie_value(head_with("Cookie: \tio = spaced \t\r\n"), "io"), "spaced");
    EXPECT_EQ(cookie_value(head_with("Cookie: io=\"quoted\"\r\n"), "io"), "quoted");
    EXPECT_EQ(cookie_value(head_with("Cookie: io=a=b\r\n"), "io"), "a=b") << "only the first '=' separates";
}

TEST(CookieValue, AnEmptyOrMissingValueIsNoCookie) {
    EXPECT_EQ(cookie_value(head_with("Cookie: io=\r\n"), "io"), std::nullopt);
    EXPECT_EQ(cookie_value(head_with("Cookie: io=\"\"\r\n"), "io"), std::nullopt);
    EXPECT_EQ(cookie_value(head_with("Cookie: io; lang=en\r\n"), "io"), std::nullopt);
    EXPECT_EQ(cookie_value(head_with("Cookie: \r\n"), "io"), std::nullopt);
    EXPECT_EQ(cookie_value(head_with(""), "io"), std::nullopt);
}

TEST(CookieValue, NothingAfterTheEndOfTheHeadIsRead) {
    const std::string head = head_with("") + "Cookie: io=body";
    EXPECT_EQ(cookie_value(head, "io"), std::nullopt);
}

}  // namespace
}  // namespace vhostd::http
