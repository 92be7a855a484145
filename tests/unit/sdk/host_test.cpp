#include "sdk/cpp/host.hpp"

#include <gtest/gtest.h>

using vhostd::sdk::same_host;

TEST(SameHost, IgnoresCasePortAndOneTrailingDot) {
    EXPECT_TRUE(same_host("blog.example", "blog.example"));
    EXPECT_TRUE(same_host("Blog.Example:8080", "blog.example"));
    EXPECT_TRUE(same_host("blog.example.", "BLOG.EXAMPLE:80"));
    EXPECT_TRUE(same_host("[::1]:8080", "[::1]"));
}

TEST(SameHost, DifferentHostsDiffer) {
    EXPECT_FALSE(same_host("shop.example", "blog.example"));
    EXPECT_FALSE(same_host("blog.example.evil", "blog.example"));
    EXPECT_FALSE(same_host("", ""));
    EXPECT_FALSE(same_host("[::1]", "[::2]"));
    EXPECT_FALSE(same_host("blog.example..", "blog.example"));
}
