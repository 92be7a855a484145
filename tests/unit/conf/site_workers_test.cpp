// The worker keys of [sites.NAME] (conf/site_section.cpp): the pool size (workers or
// min_workers/max_workers) and a worker's lifetime settings.
#include "tests/unit/conf/load_helpers.hpp"

#include <gtest/gtest.h>

namespace vhostd::conf {
namespace {

using namespace std::chrono_literals;

TEST(LoadConfig, PoolSizeFollowsWhicheverKeysAreGiven) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.fixed]
hosts = ["fixed.example"]
command = ["./app"]
workers = 4
[sites.only-max]
hosts = ["only-max.example"]
command = ["./app"]
max_workers = 8
[sites.only-min]
hosts = ["only-min.example"]
command = ["./app"]
min_workers = 3
[sites.only-min-zero]
hosts = ["only-min-zero.example"]
command = ["./app"]
min_workers = 0
[sites.both]
hosts = ["both.example"]
command = ["./app"]
max_workers = 6
min_workers = 2
[sites.equal]
hosts = ["equal.example"]
command = ["./app"]
min_workers = 5
max_workers = 5
[sites.neither]
hosts = ["neither.example"]
command = ["./app"]
)");
    std::vector<std::pair<unsigned, unsigned>> pools;
    for (const Site& site : config.sites) {
        pools.emplace_back(site.min_workers, site.max_workers);
    }
    EXPECT_EQ(pools, (std::vector<std::pair<unsigned, unsigned>>{{4, 4}, {0, 8}, {3, 3}, {0, 1}, {2, 6}, {5, 5}, {1, 1}}));
}

TEST(LoadConfig, ZeroMaxAgeAndMaxMemoryMeanNoLimit) {
    const Config config = load_valid(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
max_age = "0s"
max_memory = "0B"
max_requests = 0
)");
    ASSERT_EQ(config.sites.size(), 1u);
    EXPECT_EQ(config.sites[0].max_age, 0ms);
    EXPECT_EQ(config.sites[0].max_memory, 0u);
    EXPECT_EQ(config.sites[0].max_requests, 0u);
}

TEST(LoadConfig, ReportsWorkersCombinedWithMinOrMaxAtTheLaterKey) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
workers = 2
max_workers = 4
min_workers = 1
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
min_workers = 1
workers = 2
[sites.wiki]
hosts = ["wiki.example"]
command = ["./wiki"]
max_workers = 4
workers = 2
min_workers = 1
)"),
              (Errors{
                  "7:1: sites.blog.max_workers: cannot be combined with workers",
                  "8:1: sites.blog.min_workers: cannot be combined with workers",
                  "13:1: sites.shop.workers: cannot be combined with min_workers",
                  "18:1: sites.wiki.workers: cannot be combined with max_workers",
                  "19:1: sites.wiki.min_workers: cannot be combined with workers",
              }));
}

TEST(LoadConfig, ReportsWorkersCombinedEvenWhenAValueIsOutOfRange) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
workers = 0
max_workers = 4
)"),
              (Errors{
                  "6:11: sites.blog.workers: must be between 1 and 256",
                  "7:1: sites.blog.max_workers: cannot be combined with workers",
              }));
}

TEST(LoadConfig, ReportsMinWorkersAboveMaxWorkers) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
max_workers = 2
min_workers = 3
)"),
              (Errors{"7:15: sites.blog.min_workers: must not be greater than max_workers (2)"}));

    // An out-of-range value is reported once, not compared with the other key as well.
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
min_workers = 257
max_workers = 2
)"),
              (Errors{"6:15: sites.blog.min_workers: must be between 0 and 256"}));
}

TEST(LoadConfig, ReportsPoolSizesOutOfRange) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
min_workers = -1
max_workers = 0
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
min_workers = 257
max_workers = 257
[sites.wiki]
hosts = ["wiki.example"]
command = ["./wiki"]
min_workers = "1"
max_workers = 1.0
)"),
              (Errors{
                  "6:15: sites.blog.min_workers: must be between 0 and 256",
                  "7:15: sites.blog.max_workers: must be between 1 and 256",
                  "11:15: sites.shop.min_workers: must be between 0 and 256",
                  "12:15: sites.shop.max_workers: must be between 1 and 256",
                  "16:15: sites.wiki.min_workers: must be an integer",
                  "17:15: sites.wiki.max_workers: must be an integer",
              }));
}

TEST(LoadConfig, ReportsBadWorkerLifetimeSettings) {
    EXPECT_EQ(load_errors(R"([[listen]]
address = "127.0.0.1:8080"
[sites.blog]
hosts = ["blog.example"]
command = ["./blog"]
idle_timeout = "0s"
start_timeout = "0ms"
kill_timeout = "0s"
max_requests = -1
restart_limit = { cooldown = "0s" }
[sites.shop]
hosts = ["shop.example"]
command = ["./shop"]
idle_timeout = 60
start_timeout = "30"
kill_timeout = "1.5s"
max_requests = 4611686018427387905
restart_limit = { cooldown = 60 }
)"),
              (Errors{
                  "6:16: sites.blog.idle_timeout: must be greater than 0",
                  "7:17: sites.blog.start_timeout: must be greater than 0",
                  "8:16: sites.blog.kill_timeout: must be greater than 0",
                  "9:16: sites.blog.max_requests: must be between 0 and 4611686018427387904",
                  "10:30: sites.blog.restart_limit.cooldown: must be greater than 0",
                  "14:16: sites.shop.idle_timeout: must be a duration like \"10s\" (units ms, s, m, h)",
                  "15:17: sites.shop.start_timeout: must be a duration like \"10s\" (units ms, s, m, h)",
                  "16:16: sites.shop.kill_timeout: must be a duration like \"10s\" (units ms, s, m, h)",
                  "17:16: sites.shop.max_requests: must be between 0 and 4611686018427387904",
                  "18:30: sites.shop.restart_limit.cooldown: must be a duration like \"10s\" (units ms, s, m, h)",
              }));
}

}  // namespace
}  // namespace vhostd::conf
