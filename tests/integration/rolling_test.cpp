// Scenario: every way a site's workers get replaced (age, memory, requests, vhostctl
// restart, a reload, watched files) rolls a pool of three one worker at a time under a
// request loop: no request fails, three workers stay ready, never more than four run.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/temp_dir.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <fstream>
#include <iostream>
#include <functional>
#include <limits>
#include <thread>

using namespace vhostd::test;
namespace json = boost::json;

namespace {

constexpr unsigned pool_size = 3;

struct Observed {
    int ok = 0;
    int failed = 0;
    std::size_t max_processes = 0;  // of the site, draining ones included (from /status and from /proc)
    std::size_t min_ready = std::numeric_limits<std::size_t>::max();
    bool roll_shown = false;        // /status had a "roll" object
    bool done = false;
};

class Rolling : public ::testing::Test {
protected:
    TempDir dir;
    const std::uint16_t port = free_port();
    const std::uint16_t admin = free_port();

    std::string config(const std::string& site) const {
        return listen_on(port) + "[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin) + "\"\n\n" + site;
    }

    // The site from /status, or an empty object while the endpoint does not answer.
    json::object site_status() const {
        auto answer = try_get(admin, "127.0.0.1:" + std::to_string(admin), "/status");
        if (!answer || answer->status() != 200) return {};
        return json::parse(answer->body()).at("sites").at(0).as_object();
    }

    bool all_ready() const {
        return wait_until([&] {
            const json::object site = site_status();
            return !site.empty() && site.at("workers_by_state").at("ready").to_number<unsigned>() == pool_size;
        });
    }

    // Sends requests one after another (a new connection each, at most one per `pace`) while
    // another thread samples /status and vhostd's children, until `done()` or 30 s.
    Observed under_load(VhostdProcess& vhostd, const std::function<void()>& trigger, const std::function<bool()>& done,
                        std::chrono::milliseconds pace = 0ms) {
        Observed seen;
        std::atomic<bool> stop{false};
        std::thread watcher([&] {
            while (!stop) {
                if (const json::object site = site_status(); !site.empty()) {
                    seen.max_processes = std::max<std::size_t>(seen.max_processes, site.at("workers").as_array().size());
                    seen.min_ready = std::min<std::size_t>(seen.min_ready, site.at("workers_by_state").at("ready").to_number<std::size_t>());
                    seen.roll_shown = seen.roll_shown || !site.at("roll").is_null();
                }
                seen.max_processes = std::max(seen.max_processes, vhostd.workers().size());
                std::this_thread::sleep_for(5ms);  // a sampling interval, not a wait
            }
        });
        trigger();
        const auto give_up = std::chrono::steady_clock::now() + 30s;
        for (int i = 0; i < 200000 && std::chrono::steady_clock::now() < give_up && !(seen.done = done()); ++i) {
            if (pace > 0ms) std::this_thread::sleep_for(pace);  // a rate, not a wait
            const Exchange answer = get(port, "roll.test");
            if (answer.status() == 200) {
                ++seen.ok;
            } else if (++seen.failed <= 3) {
                ADD_FAILURE() << "answer " << answer.status() << " reset=" << answer.reset << "\n" << answer.response;
            }
        }
        stop = true;
        watcher.join();
        return seen;
    }

    void expect_one_at_a_time(const Observed& seen, const VhostdProcess& vhostd) {
        std::cout << "requests answered " << seen.ok << ", failed " << seen.failed << "; most workers at once "
                  << seen.max_processes << ", fewest ready " << seen.min_ready << "\n";
        EXPECT_TRUE(seen.done) << vhostd.log();
        EXPECT_EQ(seen.failed, 0);
        EXPECT_GT(seen.ok, 0);
        EXPECT_EQ(seen.min_ready, pool_size) << "never fewer than N ready workers";
        EXPECT_LE(seen.max_processes, pool_size + 1) << "never more than N + max_surge workers\n" << vhostd.log();
    }
};

std::string hello_pool(const std::string& extra) { return hello_site("roll", R"(["roll.test"])", pool_size, extra); }

TEST_F(Rolling, AgeRotation) {
    VhostdProcess vhostd(dir, config(hello_pool("max_age = \"2s\"\n")));
    ASSERT_TRUE(all_ready()) << vhostd.log();
    const Observed seen = under_load(vhostd, [] {}, [&] { return vhostd.count_in_log("ready -> draining (max_age reached)") >= pool_size; });
    expect_one_at_a_time(seen, vhostd);
    EXPECT_TRUE(seen.roll_shown);
}

TEST_F(Rolling, RequestCountRotation) {
    VhostdProcess vhostd(dir, config(hello_pool("max_requests = 40\nheartbeat_timeout = \"1500ms\"\n")));
    ASSERT_TRUE(all_ready()) << vhostd.log();
    const Observed seen = under_load(vhostd, [] {}, [&] { return vhostd.count_in_log("ready -> draining (max_requests reached)") >= pool_size; });
    expect_one_at_a_time(seen, vhostd);
}

TEST_F(Rolling, MemoryRotation) {
    VhostdProcess vhostd(dir, config(test_site("roll", R"(["roll.test"])", "--leak-mib 1",
                                               "workers = 3\nmax_memory = \"24MiB\"\n")));
    ASSERT_TRUE(all_ready()) << vhostd.log();
    // Paced: every request leaks 1 MiB, retiring workers included, until they drain.
    const Observed seen = under_load(vhostd, [] {}, [&] { return vhostd.count_in_log("ready -> draining (max_memory exceeded)") >= pool_size; }, 5ms);
    expect_one_at_a_time(seen, vhostd);
}

TEST_F(Rolling, RestartFromTheAdminEndpoint) {
    VhostdProcess vhostd(dir, config(hello_pool("")));
    ASSERT_TRUE(all_ready()) << vhostd.log();
    const auto restart = [&] {
        const std::string host = "127.0.0.1:" + std::to_string(admin);
        const Exchange answer = round_trip(admin, "POST /sites/roll/restart HTTP/1.1\r\nHost: " + host +
                                                      "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        EXPECT_EQ(answer.status(), 200) << answer.response;
    };
    const Observed seen = under_load(vhostd, restart, [&] { return vhostd.count_in_log("roll done: ") >= 1; });
    expect_one_at_a_time(seen, vhostd);
    EXPECT_TRUE(seen.roll_shown);
}

TEST_F(Rolling, AReloadThatChangesTheWorkers) {
    VhostdProcess vhostd(dir, config(hello_pool("")));
    ASSERT_TRUE(all_ready()) << vhostd.log();
    const auto reload = [&] { EXPECT_TRUE(vhostd.reload(config(hello_pool("env = { GENERATION = \"2\" }\n")))) << vhostd.log(); };
    const Observed seen = under_load(vhostd, reload, [&] { return vhostd.count_in_log("roll done: ") >= 1; });
    expect_one_at_a_time(seen, vhostd);
}

TEST_F(Rolling, AChangeInWatchedFiles) {
    const std::string watched = (dir.path() / "app").string();
    std::filesystem::create_directory(watched);
    VhostdProcess vhostd(dir, config(hello_pool("watch = [\"" + watched + "\"]\nwatch_debounce = \"100ms\"\n")));
    ASSERT_TRUE(all_ready()) << vhostd.log();
    const auto edit = [&] { std::ofstream(watched + "/app.js") << "changed\n"; };
    const Observed seen = under_load(vhostd, edit, [&] { return vhostd.count_in_log("roll done: ") >= 1; });
    expect_one_at_a_time(seen, vhostd);
}

}  // namespace
