#include "workers/static/mime_type.hpp"
#include "workers/static/validators.hpp"

#include <gtest/gtest.h>

using namespace vhostd::static_files;

TEST(Validators, HttpDatesRoundTripInAllThreeForms) {
    EXPECT_EQ(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
    EXPECT_FALSE(parse_http_date("yesterday"));
    EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing"));
    EXPECT_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
}

TEST(Validators, EntityTagChangesWithSizeAndTime) {
    const std::string tag = entity_tag(10, {100, 5});
    EXPECT_EQ(tag.front(), '"');
    EXPECT_EQ(tag.back(), '"');
    EXPECT_NE(tag, entity_tag(11, {100, 5}));
    EXPECT_NE(tag, entity_tag(10, {100, 6}));
}

TEST(Validators, IfNoneMatchWinsOverIfModifiedSince) {
    const std::string tag = "\"abc\"";
    const std::time_t modified = 784111777;
    EXPECT_EQ(evaluate({.if_none_match = "\"abc\""}, tag, modified), Precondition::not_modified);
    EXPECT_EQ(evaluate({.if_none_match = "\"x\", W/\"abc\""}, tag, modified), Precondition::not_modified) << "weak comparison";
    EXPECT_EQ(evaluate({.if_none_match = "*"}, tag, modified), Precondition::not_modified);
    EXPECT_EQ(evaluate({.if_none_match = "\"x\"", .if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT"}, tag, modified),
              Precondition::proceed);
    EXPECT_EQ(evaluate({.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT"}, tag, modified), Precondition::not_modified);
    EXPECT_EQ(evaluate({.if_modified_since = "Sun, 06 Nov 1994 08:49:36 GMT"}, tag, modified), Precondition::proceed);
    EXPECT_EQ(evaluate({.if_modified_since = "garbage"}, tag, modified), Precondition::proceed);
}

TEST(Validators, IfMatchAndIfUnmodifiedSinceFail) {
    const std::string tag = "\"abc\"";
    EXPECT_EQ(evaluate({.if_match = "\"abc\""}, tag, 100), Precondition::proceed);
    EXPECT_EQ(evaluate({.if_match = "W/\"abc\""}, tag, 100), Precondition::failed) << "strong comparison";
    EXPECT_EQ(evaluate({.if_match = "\"zzz\""}, tag, 100), Precondition::failed);
    EXPECT_EQ(evaluate({.if_unmodified_since = "Thu, 01 Jan 1970 00:00:00 GMT"}, tag, 100), Precondition::failed);
}

TEST(Validators, IfRange) {
    EXPECT_TRUE(range_allowed("", "\"abc\"", 100));
    EXPECT_TRUE(range_allowed("\"abc\"", "\"abc\"", 100));
    EXPECT_FALSE(range_allowed("\"old\"", "\"abc\"", 100));
    EXPECT_FALSE(range_allowed("W/\"abc\"", "\"abc\"", 100));
    EXPECT_TRUE(range_allowed("Sun, 06 Nov 1994 08:49:37 GMT", "\"abc\"", 784111777));
    EXPECT_FALSE(range_allowed("Sun, 06 Nov 1994 08:49:38 GMT", "\"abc\"", 784111777));
}

TEST(MimeType, ByExtension) {
    EXPECT_EQ(mime_type("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(mime_type("a/b/STYLE.CSS"), "text/css; charset=utf-8");
    EXPECT_EQ(mime_type("app.mjs"), "text/javascript; charset=utf-8");
    EXPECT_EQ(mime_type("logo.svg"), "image/svg+xml");
    EXPECT_EQ(mime_type("font.woff2"), "font/woff2");
    EXPECT_EQ(mime_type("x.wasm"), "application/wasm");
    EXPECT_EQ(mime_type("README"), "application/octet-stream");
    EXPECT_EQ(mime_type("archive."), "application/octet-stream");
    EXPECT_EQ(mime_type("dir.html/file"), "application/octet-stream");
}
