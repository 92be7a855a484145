// [admin] (conf/admin_section.cpp): its endpoint and token file.
#include "tests/unit/conf/load_helpers.hpp"

#include <gtest/gtest.h>

namespace vhostd::conf {
namespace {

TEST(LoadConfig, AdminEndpointIsNeverAPublicListener) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "0.0.0.0:8080"
[admin]
listen = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)"),
              (Errors{"4:10: admin.listen: must not be the address of a public listener (0.0.0.0:8080)"}));
    const Config other_port = load_valid(R"([[listen]]
address = "0.0.0.0:8080"
[admin]
listen = "127.0.0.1:9180"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)");
    EXPECT_TRUE(other_port.admin);
}

TEST(LoadConfig, AdminTokenFileResolvesAgainstTheConfigDir) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[admin]
listen = "127.0.0.1:9180"
token_file = "secrets/admin.token"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
)");
    ASSERT_TRUE(config.admin);
    EXPECT_EQ(config.admin->token_file, "/tmp/x/secrets/admin.token");
}

}  // namespace
}  // namespace vhostd::conf
