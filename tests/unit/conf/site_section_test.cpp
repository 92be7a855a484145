// [sites.NAME] (conf/site_section.cpp): hosts, the default site, the program to run
// (command, static, upstream, runtime), names, environment, cwd, user and group.
#include "tests/unit/conf/load_helpers.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace vhostd::conf {
namespace {

namespace fs = std::filesystem;

TEST(LoadConfig, StoresUserAndGroupWithoutLookingThemUp) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
user = "no-such-user-on-this-machine"
group = "1000"
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
group = "nogroup"
)");
    ASSERT_EQ(config.sites.size(), 2u);
    EXPECT_EQ(config.sites[0].user, "no-such-user-on-this-machine");
    EXPECT_EQ(config.sites[0].group, "1000");
    EXPECT_EQ(config.sites[1].user, "");
    EXPECT_EQ(config.sites[1].group, "nogroup");
}

TEST(LoadConfig, ResolvesCommandAndCwdAgainstTheConfigDirectory) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.a]
hosts = ["a.example"]
command = ["bin/app"]
cwd = "/srv/app/"
[sites.b]
hosts = ["b.example"]
command = ["/usr/bin/env", "./not-resolved"]
cwd = "../data"
[sites.c]
hosts = ["c.example"]
command = ["../c/./run"]
cwd = "."
)");
    ASSERT_EQ(config.sites.size(), 3u);
    EXPECT_EQ(config.sites[0].command, (std::vector<std::string>{"/tmp/x/bin/app"}));
    EXPECT_EQ(config.sites[0].cwd, "/srv/app");
    EXPECT_EQ(config.sites[1].command, (std::vector<std::string>{"/usr/bin/env", "./not-resolved"}));
    EXPECT_EQ(config.sites[1].cwd, "/tmp/data");
    EXPECT_EQ(config.sites[2].command, (std::vector<std::string>{"/tmp/c/run"}));
    EXPECT_EQ(config.sites[2].cwd, "/tmp/x");
}

TEST(LoadConfig, DefaultSiteMayListNoHosts) {
    const Config without_key = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.fallback]
command = ["./fallback"]
default = true
)");
    ASSERT_EQ(without_key.sites.size(), 1u);
    EXPECT_TRUE(without_key.sites[0].is_default);
    EXPECT_TRUE(without_key.sites[0].hosts.empty());

    const Config empty_list = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.fallback]
hosts = []
command = ["./fallback"]
default = true
)");
    ASSERT_EQ(empty_list.sites.size(), 1u);
    EXPECT_TRUE(empty_list.sites[0].hosts.empty());
}

TEST(LoadConfig, ReportsEmptyHostListsOutsideTheDefaultSite) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.shop]
hosts = []
command = ["./shop"]
default = false
)"),
              (Errors{"4:9: sites.shop.hosts: must list at least one host unless default = true"}));
}

TEST(LoadConfig, ReportsDuplicateHostsNamingBothPlaces) {
    // "alpha" sorts before "blog" but comes second in the file: "blog" owns the host.
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example", "www.blog.example"]
command = ["./blog"]
[sites.alpha]
hosts = ["Blog.Example.", "alpha.example", "alpha.example"]
command = ["./alpha"]
)"),
              (Errors{
                  "7:10: sites.alpha.hosts[0]: host \"blog.example\" is already listed at "
                  "sites.blog.hosts[0] (line 4, column 10)",
                  "7:44: sites.alpha.hosts[2]: host \"alpha.example\" is already listed at "
                  "sites.alpha.hosts[1] (line 7, column 27)",
              }));
}

TEST(LoadConfig, OneIpv6AddressWrittenTwoWaysIsADuplicateHost) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.local]
hosts = ["[::1]", "[2001:db8::1]"]
command = ["./local"]
[sites.other]
hosts = ["[0:0::1]", "[2001:DB8:0:0:0:0:0:1]"]
command = ["./other"]
)"),
              (Errors{
                  "7:10: sites.other.hosts[0]: host \"[::1]\" is already listed at sites.local.hosts[0] (line 4, column 10)",
                  "7:22: sites.other.hosts[1]: host \"[2001:db8::1]\" is already listed at sites.local.hosts[1] (line 4, column 19)",
              }));
}

TEST(LoadConfig, ReportsASecondDefaultSiteNamingBoth) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.zz]
hosts = []
command = ["./zz"]
default = true
[sites.aa]
command = ["./aa"]
default = true
)"),
              (Errors{"9:11: sites.aa.default: only one site may be the default; sites.zz.default (line 6, column 11) "
                      "already is"}));
}

TEST(LoadConfig, ReportsBadCommands) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.b]
hosts = ["b.example"]
command = []
[sites.c]
hosts = ["c.example"]
command = ["./c", "", 3]
)"),
              (Errors{
                  "5:11: sites.b.command: must name a program to run",
                  "8:19: sites.c.command[1]: must not be empty",
                  "8:23: sites.c.command[2]: must be a string",
              }));
}

TEST(LoadConfig, ReportsBadSiteNamesEnvironmentAndCwd) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites."my blog"]
hosts = ["blog.example"]
command = ["./blog"]
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
env = { "1BAD" = "x", GOOD = 1, OK = "a\u0000b" }
cwd = ""
)"),
              (Errors{
                  "3:8: sites.my blog: site name must use only letters, digits, '-' and '_'",
                  "9:9: sites.shop.env.1BAD: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                  "9:30: sites.shop.env.GOOD: must be a string",
                  "9:38: sites.shop.env.OK: must not contain a NUL character",
                  "10:7: sites.shop.cwd: must not be empty",
              }));
}

TEST(LoadConfig, ReportsBadUserAndGroup) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
user = ""
group = ""
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
user = 1000
group = "www\u0000data"
)"),
              (Errors{
                  "6:8: sites.blog.user: must not be empty",
                  "7:9: sites.blog.group: must not be empty",
                  "11:8: sites.shop.user: must be a string",
                  "12:9: sites.shop.group: must not contain a NUL character",
              }));
}

TEST(LoadConfig, StaticAndUpstreamBecomeTheBundledWorkers) {
    const fs::path root = fs::temp_directory_path() / "vhostd-loader-static";
    fs::create_directories(root / "public");
    const std::string path = (root / "site.toml").string();
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.docs]
hosts = ["docs.example"]
static = "public/"
[sites.legacy]
hosts = ["legacy.example"]
upstream = ["bin/app", "--port", "$PORT"]
)", path);
    ASSERT_EQ(config.sites.size(), 2u);
    EXPECT_EQ(config.sites[0].command, (std::vector<std::string>{"vhostd-static", "--root", (root / "public").string()}));
    EXPECT_EQ(config.sites[1].command,
              (std::vector<std::string>{"vhostd-upstream", "--", (root / "bin/app").string(), "--port", "$PORT"}));
    EXPECT_EQ(config.sites[1].runtime, Runtime::native);
    fs::remove_all(root);
}

TEST(LoadConfig, RuntimeIsNodeWhenGivenOrWhenTheProgramIsNode) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.a]
hosts = ["a.example"]
command = ["node", "server.js"]
[sites.b]
hosts = ["b.example"]
command = ["/usr/bin/nodejs", "server.js"]
[sites.c]
hosts = ["c.example"]
command = ["./start.sh"]
runtime = "node"
[sites.d]
hosts = ["d.example"]
command = ["node", "server.js"]
runtime = "native"
[sites.e]
hosts = ["e.example"]
command = ["python3", "app.py"]
)");
    ASSERT_EQ(config.sites.size(), 5u);
    EXPECT_EQ(config.sites[0].runtime, Runtime::node);
    EXPECT_EQ(config.sites[1].runtime, Runtime::node);
    EXPECT_EQ(config.sites[2].runtime, Runtime::node);
    EXPECT_EQ(config.sites[3].runtime, Runtime::native);
    EXPECT_EQ(config.sites[4].runtime, Runtime::native);
}

TEST(LoadConfig, ReportsConflictingProgramsAndBadRuntimes) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.a]
hosts = ["a.example"]
command = ["x"]
upstream = ["y"]
runtime = "java"
[sites.b]
hosts = ["b.example"]
static = "/nonexistent/vhostd-root"
[sites.c]
hosts = ["c.example"]
static = "/tmp"
runtime = "node"
tls_mode = "passthrough"
)"),
              (Errors{
                  "3:1: sites.a: command, static and upstream are alternatives: give one of them",
                  "7:11: sites.a.runtime: must be \"node\" or \"native\"",
                  "10:10: sites.b.static: '/nonexistent/vhostd-root' is not a directory",
                  "14:11: sites.c.runtime: applies to command only: static and upstream run vhostd's own workers",
                  "15:12: sites.c.tls_mode: must be \"terminate\" for a static site: vhostd-static does not terminate TLS",
              }));
}

}  // namespace
}  // namespace vhostd::conf
