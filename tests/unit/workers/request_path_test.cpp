#include "workers/static/request_path.hpp"

#include <gtest/gtest.h>

using vhostd::static_files::parse_request_path;

namespace {

std::string relative(std::string_view target) {
    const auto path = parse_request_path(target);
    return path ? path->relative : "<refused>";
}

}  // namespace

TEST(RequestPath, PlainPathsAndQueries) {
    EXPECT_EQ(relative("/"), "");
    EXPECT_EQ(relative("/index.html"), "index.html");
    EXPECT_EQ(relative("/docs/a.css?v=3#top"), "docs/a.css");
    EXPECT_EQ(relative("//docs///a.css"), "docs/a.css");
    EXPECT_EQ(relative("http://example.com/docs/a.css?x"), "docs/a.css");
    EXPECT_EQ(relative("HTTPS://example.com"), "");
}

TEST(RequestPath, PercentDecoding) {
    EXPECT_EQ(relative("/a%20b.txt"), "a b.txt");
    EXPECT_EQ(relative("/caf%C3%A9"), "caf\xC3\xA9");
    EXPECT_EQ(relative("/a%2"), "<refused>");
    EXPECT_EQ(relative("/a%zz"), "<refused>");
    EXPECT_EQ(relative("/a%00b"), "<refused>") << "NUL would cut the path short in a system call";
    EXPECT_EQ(relative("/a%2Fb"), "<refused>") << "an encoded '/' must not become a separator";
}

TEST(RequestPath, DotSegmentsStayInsideTheRoot) {
    EXPECT_EQ(relative("/a/./b/../c"), "a/c");
    EXPECT_EQ(relative("/a/.."), "");
    EXPECT_EQ(relative("/.."), "<refused>");
    EXPECT_EQ(relative("/../etc/passwd"), "<refused>");
    EXPECT_EQ(relative("/a/../../etc/passwd"), "<refused>");
    EXPECT_EQ(relative("/%2e%2e/etc/passwd"), "<refused>");
    EXPECT_EQ(relative("/%2E%2E%2fetc"), "<refused>");
    EXPECT_EQ(relative("/a/%2e%2e/%2e%2e/etc"), "<refused>");
    EXPECT_EQ(relative("etc/passwd"), "<refused>") << "not origin-form";
    EXPECT_EQ(relative("*"), "<refused>");
}

TEST(RequestPath, DotFilesAreRefusedUnlessAllowed) {
    EXPECT_EQ(relative("/.git/config"), "<refused>");
    EXPECT_EQ(relative("/app/.env"), "<refused>");
    EXPECT_EQ(relative("/%2egit/config"), "<refused>");
    EXPECT_EQ(relative("/.well-known/acme-challenge/token"), ".well-known/acme-challenge/token") << "RFC 8615";
    EXPECT_EQ(relative("/app/.well-known/x"), "<refused>") << "only at the top";
    EXPECT_EQ(relative("/.well-known/.secret"), "<refused>");
    const auto allowed = parse_request_path("/app/.env", true);
    ASSERT_TRUE(allowed);
    EXPECT_EQ(allowed->relative, "app/.env");
}

TEST(RequestPath, DirectoryForm) {
    EXPECT_TRUE(parse_request_path("/")->directory_form);
    EXPECT_TRUE(parse_request_path("/docs/")->directory_form);
    EXPECT_TRUE(parse_request_path("/docs/.")->directory_form);
    EXPECT_TRUE(parse_request_path("/docs/a/..")->directory_form);
    EXPECT_FALSE(parse_request_path("/docs")->directory_form);
    EXPECT_FALSE(parse_request_path("/docs?x=/")->directory_form);
}
