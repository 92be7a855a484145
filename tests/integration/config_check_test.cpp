// Scenario: `vhostd --check` as an operator uses it before a deploy.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

using namespace vhostd::test;

namespace {

TEST(ConfigCheck, ValidConfigPrintsOkAndExitsZero) {
    TempDir dir;
    const auto file = dir.write("ok.toml", listen_on(8080) + hello_site("blog", R"(["blog.example"])", 2));
    const auto [status, output] = run_command({vhostd_binary, "--check", "-c", file.string()});
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output.rfind("ok: " + file.string(), 0), 0u) << output;
}

TEST(ConfigCheck, BrokenConfigPointsAtTheLineAndExitsOne) {
    TempDir dir;
    const auto file = dir.write("broken.toml",
                                "[[listen]]\n"
                                "address = \"127.0.0.1:8080\"\n"
                                "\n"
                                "[sites.blog]\n"
                                "hosts = [\"blog.example\"]\n"
                                "command = [\"./w\"]\n"
                                "workers = \"two\"\n"
                                "head_timeout = \"10s\"\n"
                                "max_age = \"1 hour\"\n");
    const auto [status, output] = run_command({vhostd_binary, "--check", "-c", file.string()});
    EXPECT_EQ(status, 1) << output;
    EXPECT_NE(output.find(file.string() + ":7:11: sites.blog.workers: "), std::string::npos) << output;
    EXPECT_NE(output.find(file.string() + ":8:1: sites.blog.head_timeout: unknown key"), std::string::npos) << output;
    EXPECT_NE(output.find(file.string() + ":9:11: sites.blog.max_age: "), std::string::npos) << output;
    EXPECT_NE(output.find("3 errors in"), std::string::npos) << output;
}

TEST(ConfigCheck, TomlSyntaxErrorHasAPosition) {
    TempDir dir;
    const auto file = dir.write("syntax.toml", "[[listen]]\naddress = \"127.0.0.1:8080\n");
    const auto [status, output] = run_command({vhostd_binary, "--check", "-c", file.string()});
    EXPECT_EQ(status, 1);
    EXPECT_NE(output.find(file.string() + ":2:"), std::string::npos) << output;
}

TEST(ConfigCheck, MissingFileIsAnError) {
    const auto [status, output] = run_command({vhostd_binary, "--check", "-c", "/nonexistent/vhostd.toml"});
    EXPECT_EQ(status, 1);
    EXPECT_NE(output.find("/nonexistent/vhostd.toml: cannot read file"), std::string::npos) << output;
}

}  // namespace
