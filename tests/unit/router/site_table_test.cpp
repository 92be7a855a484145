#include "router/site_table.hpp"

#include "conf/config.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace vhostd::router {
namespace {

conf::Site make_site(std::string name, std::vector<std::string> hosts, bool is_default = false) {
    conf::Site site;
    site.name = std::move(name);
    site.hosts = std::move(hosts);
    site.is_default = is_default;
    return site;
}

// 0 blog, 1 shop, 2 catch-all, 3 special, 4 fallback (default)
std::vector<conf::Site> sample_sites() {
    return {
        make_site("blog", {"blog.example", "*.blog.example"}),
        make_site("shop", {"shop.example", "Store.Example."}),
        make_site("catch-all", {"*.example"}),
        make_site("special", {"special.blog.example", "[::1]", "127.0.0.1"}),
        make_site("fallback", {"fallback.test"}, true),
    };
}

TEST(SiteTable, ExactNames) {
    const SiteTable table(sample_sites());
    EXPECT_EQ(table.lookup("blog.example"), 0u);
    EXPECT_EQ(table.lookup("shop.example"), 1u);
    EXPECT_EQ(table.lookup("fallback.test"), 4u);
    EXPECT_EQ(table.lookup("[::1]"), 3u);
    EXPECT_EQ(table.lookup("127.0.0.1"), 3u);
}

TEST(SiteTable, PatternsAreNormalisedLikeRequests) {
    const SiteTable table(sample_sites());
    // "Store.Example." in the config is the key "store.example".
    EXPECT_EQ(table.lookup("store.example"), 1u);
}

TEST(SiteTable, ExactBeatsWildcard) {
    const SiteTable table(sample_sites());
    EXPECT_EQ(table.lookup("special.blog.example"), 3u);
}

TEST(SiteTable, WildcardMatchesOneOrMoreLabels) {
    const SiteTable table(sample_sites());
    EXPECT_EQ(table.lookup("a.blog.example"), 0u);
    EXPECT_EQ(table.lookup("x.y.blog.example"), 0u);
    EXPECT_EQ(table.lookup("x.special.blog.example"), 0u);
}

TEST(SiteTable, LongestWildcardWins) {
    const SiteTable table(sample_sites());
    EXPECT_EQ(table.lookup("a.blog.example"), 0u);  // *.blog.example, not *.example
    EXPECT_EQ(table.lookup("a.shop.example"), 2u);
    EXPECT_EQ(table.lookup("other.example"), 2u);
    EXPECT_EQ(table.lookup("xblog.example"), 2u);  // ".blog.example" needs the dot
}

TEST(SiteTable, WildcardDoesNotMatchItsOwnSuffix) {
    const SiteTable table({make_site("blog", {"*.blog.example"})});
    EXPECT_EQ(table.lookup("a.blog.example"), 0u);
    EXPECT_EQ(table.lookup("blog.example"), std::nullopt);
    EXPECT_EQ(table.lookup("example"), std::nullopt);
    EXPECT_EQ(table.lookup("ablog.example"), std::nullopt);
}

TEST(SiteTable, UnknownHostGoesToTheDefault) {
    const SiteTable table(sample_sites());
    EXPECT_EQ(table.default_site(), 4u);
    EXPECT_EQ(table.lookup("unknown.test"), 4u);
    EXPECT_EQ(table.lookup("example"), 4u);  // "*.example" needs a label in front
    EXPECT_EQ(table.lookup("[::2]"), 4u);
}

TEST(SiteTable, EmptyHostGoesOnlyToTheDefault) {
    const SiteTable with_default(sample_sites());
    EXPECT_EQ(with_default.lookup(""), 4u);

    const SiteTable without_default({make_site("blog", {"blog.example", "*.example"})});
    EXPECT_EQ(without_default.lookup(""), std::nullopt);
}

TEST(SiteTable, NoDefaultMeansNoMatch) {
    const SiteTable table({make_site("blog", {"blog.example"}), make_site("shop", {"shop.example"})});
    EXPECT_EQ(table.default_site(), std::nullopt);
    EXPECT_EQ(table.lookup("unknown.test"), std::nullopt);
    EXPECT_EQ(table.lookup("shop.example"), 1u);
}

TEST(SiteTable, DefaultSiteWithoutHosts) {
    const SiteTable table({make_site("blog", {"blog.example"}), make_site("rest", {}, true)});
    EXPECT_EQ(table.default_site(), 1u);
    EXPECT_EQ(table.lookup("blog.example"), 0u);
    EXPECT_EQ(table.lookup("a.blog.example"), 1u);
}

TEST(SiteTable, EmptyTable) {
    const SiteTable table(std::vector<conf::Site>{});
    EXPECT_EQ(table.default_site(), std::nullopt);
    EXPECT_EQ(table.lookup("blog.example"), std::nullopt);
    EXPECT_EQ(table.lookup(""), std::nullopt);
}

TEST(SiteTable, InvalidPatternIsRefused) {
    EXPECT_THROW(SiteTable({make_site("bad", {"bad host"})}), std::invalid_argument);
    EXPECT_THROW(SiteTable({make_site("bad", {"*."})}), std::invalid_argument);
    EXPECT_THROW(SiteTable({make_site("bad", {"*"})}), std::invalid_argument);
    EXPECT_THROW(SiteTable({make_site("bad", {"*.*.example"})}), std::invalid_argument);
    EXPECT_THROW(SiteTable({make_site("bad", {"*.[::1]"})}), std::invalid_argument);
    EXPECT_THROW(SiteTable({make_site("bad", {""})}), std::invalid_argument);
}

}  // namespace
}  // namespace vhostd::router
