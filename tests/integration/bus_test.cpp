// Scenario: a site's singleton and workers talk through vhostd (docs/protocol.md section 12),
// with the C++ SDK on both ends (bus-worker), driven over HTTP through vhostd and checked
// through the singleton's tallies and /status.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <sstream>

using namespace vhostd::test;
namespace json = boost::json;

namespace {

struct BusSite {
    TempDir dir;
    std::uint16_t port = free_port();
    std::uint16_t admin = free_port();

    std::string config(unsigned workers, const std::string& extra = "", const std::string& more_sites = "") const {
        return listen_on(port) + "[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin) + "\"\n\n" + site("bus", workers, extra) +
               more_sites;
    }
    static std::string site(const std::string& name, unsigned workers, const std::string& extra = "") {
        return "[sites." + name + "]\nhosts = [\"" + name + ".example\"]\ncommand = [\"" + std::string(bus_worker_binary) +
               "\"]\nworkers = " + std::to_string(workers) + "\n" + extra + "\n[sites." + name + ".singleton]\ncommand = [\"" +
               bus_worker_binary + "\"]\n\n";
    }

    Exchange get(const std::string& path, const std::string& host = "bus.example") const {
        return round_trip(port, "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    }
    json::value call(const std::string& method, const std::string& arg = "", const std::string& host = "bus.example") const {
        const Exchange answer = get("/call/" + method + "?" + arg, host);
        EXPECT_EQ(answer.status(), 200) << answer.response;
        return json::parse(answer.body());
    }
    json::object site_status(const std::string& name = "bus") const {
        const Exchange answer = round_trip(admin, "GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        const json::value status = json::parse(answer.body());  // kept: a range-for would not keep it alive
        for (const auto& site : status.at("sites").as_array()) {
            if (site.at("name").as_string() == name) return site.as_object();
        }
        return {};
    }
    // Every worker and the singleton said ready.
    bool ready(unsigned workers, const std::string& name = "bus") const {
        return wait_until([&] {
            try {
                const json::object site = site_status(name);
                return !site.empty() && site.at("workers_by_state").at("ready").to_number<unsigned>() == workers &&
                       site.at("singleton").at("state").as_string() == "ready";
            } catch (const std::exception&) {
                return false;  // not listening yet
            }
        });
    }
};

std::int64_t count(const json::object& counts, const std::string& key) {
    return counts.contains(key) ? counts.at(key).as_int64() : 0;
}

}  // namespace

TEST(Bus, AWorkersMessageReachesTheSingletonAndACallsReplyComesBack) {
    BusSite site;
    VhostdProcess vhostd(site.dir, site.config(2));
    ASSERT_TRUE(site.ready(2)) << vhostd.log();
    EXPECT_LT(vhostd.log().find("singleton (pid"), vhostd.log().find("worker 0 (pid")) << "the singleton starts first";

    EXPECT_EQ(site.get("/send/singleton/hello%20there").status(), 200);
    ASSERT_TRUE(wait_until([&] {
        const json::value received = site.call("received");
        return received.is_array() && !received.as_array().empty() &&
               received.as_array().back() == json::value(json::object{{"text", "hello there"}});
    })) << vhostd.log();
    EXPECT_EQ(site.call("echo", "ping"), json::value("ping"));
}

TEST(Bus, OneRandomAndToAllDeliveriesAreCountedExactly) {
    BusSite site;
    VhostdProcess vhostd(site.dir, site.config(4));
    ASSERT_TRUE(site.ready(4)) << vhostd.log();

    EXPECT_EQ(site.call("fanout", "worker:12"), json::value(12));
    EXPECT_EQ(site.call("fanout", "workers:10"), json::value(10));
    // Each worker reports every receipt to the singleton.
    json::object got;
    ASSERT_TRUE(wait_until([&] {
        got = site.call("tally").at("got").as_object();
        std::int64_t all = 0;
        for (const auto& [key, value] : got) {
            if (key.starts_with("all ")) all += value.as_int64();
        }
        return count(got, "one") == 12 && all == 40;
    })) << json::serialize(got);
    ASSERT_EQ(got.size(), 5u) << "\"one\" and four workers: " << json::serialize(got);
    for (const auto& [key, value] : got) {
        if (key.starts_with("all ")) {
            EXPECT_EQ(value.as_int64(), 10) << key;
        }
    }
    EXPECT_EQ(count(got, "one"), 12) << "one random worker per message, not more";
}

TEST(Bus, ACallToAHungSingletonFailsAndOneMadeWhileItRestartsWaitsForIt) {
    BusSite site;
    // A restart delay long enough for a short call to run out waiting, even on a slow machine.
    VhostdProcess vhostd(site.dir, site.config(1) + "restart_backoff = { initial = \"3s\", max = \"3s\" }\n");
    ASSERT_TRUE(site.ready(1)) << vhostd.log();
    const int singleton = static_cast<int>(site.site_status().at("singleton").at("pid").as_int64());

    ::kill(singleton, SIGSTOP);
    const Exchange hung = site.get("/call/echo?x&ms=300");
    EXPECT_EQ(hung.status(), 502) << hung.response;
    EXPECT_NE(hung.body().find("no reply within 300 ms"), std::string::npos) << hung.body();

    ::kill(singleton, SIGKILL);
    ASSERT_TRUE(vhostd.wait_for_log("singleton starts again")) << vhostd.log();
    const Exchange dead = site.get("/call/echo?x&ms=300");
    EXPECT_EQ(dead.status(), 502) << dead.response;
    EXPECT_NE(dead.body().find("the singleton did not start in time"), std::string::npos) << dead.body();
    // A call with time enough waits for the new one (3 s away) and gets its answer.
    const Exchange waited =
        round_trip(site.port, "GET /call/echo?back&ms=9000 HTTP/1.1\r\nHost: bus.example\r\nConnection: close\r\n\r\n", 12000ms);
    EXPECT_EQ(waited.status(), 200) << waited.response << vhostd.log();

    // It came back, gently, and the failure is counted.
    EXPECT_EQ(site.site_status().at("singleton_failures").as_int64(), 1);
    EXPECT_NE(site.site_status().at("singleton").at("pid").as_int64(), singleton);
}

TEST(Bus, ATaskRunsOncePerIntervalOnOneOfFourWorkers) {
    BusSite site;
    const std::string task = "[[sites.bus.tasks]]\nname = \"tick\"\nevery = \"200ms\"\n";
    VhostdProcess vhostd(site.dir, site.config(4, "") + task);
    ASSERT_TRUE(site.ready(4)) << vhostd.log();
    ASSERT_TRUE(wait_until([&] { return site.site_status().at("tasks").at("run").as_int64() >= 8; }, 10s)) << vhostd.log();
    // Stop the schedule, then every run must have reached exactly one worker.
    ASSERT_TRUE(vhostd.reload(site.config(4)));
    const std::int64_t runs = site.site_status().at("tasks").at("run").as_int64();
    json::object tasks;
    ASSERT_TRUE(wait_until([&] {
        tasks = site.call("tally").at("tasks").as_object();
        std::int64_t receipts = 0;
        for (const auto& [pid, n] : tasks) receipts += n.as_int64();
        return receipts == runs;
    })) << runs << " runs, receipts " << json::serialize(tasks);
    EXPECT_GE(tasks.size(), 2u) << "a worker chosen at random each time: " << json::serialize(tasks);
}

TEST(Bus, SitesNeverSeeEachOthersMessages) {
    BusSite site;
    VhostdProcess vhostd(site.dir, site.config(1, "", BusSite::site("other", 1)));
    ASSERT_TRUE(site.ready(1)) << vhostd.log();
    ASSERT_TRUE(site.ready(1, "other")) << vhostd.log();

    EXPECT_EQ(site.get("/send/singleton/for-bus-only").status(), 200);
    EXPECT_EQ(site.get("/send/workers/to-bus-workers").status(), 200);
    ASSERT_TRUE(wait_until([&] { return !site.call("received").as_array().empty(); })) << vhostd.log();
    EXPECT_EQ(site.call("received", "", "other.example"), json::value(json::array{})) << "nothing crossed to the other site";

    // One worker alone: "workers" reaches nobody, and says so.
    const json::value undeliverable = json::parse(site.get("/undeliverable").body());
    ASSERT_TRUE(undeliverable.is_array());
    ASSERT_EQ(undeliverable.as_array().size(), 1u) << undeliverable;
    EXPECT_EQ(undeliverable.as_array()[0], json::value("the site has no other ready worker"));
}

// The singleton is never rotated by age, and a restart of the site starts the new workers
// only once the new singleton is ready.
TEST(Bus, TheSingletonIsNotRotatedAndARestartWaitsForTheNewOne) {
    BusSite site;
    VhostdProcess vhostd(site.dir, site.config(2, "max_age = \"1s\"\n"));
    ASSERT_TRUE(site.ready(2)) << vhostd.log();
    const auto singleton = site.site_status().at("singleton").at("pid").as_int64();
    ASSERT_TRUE(wait_until([&] { return site.site_status().at("restarts").at("age").as_int64() >= 2; })) << vhostd.log();
    EXPECT_EQ(site.site_status().at("singleton").at("pid").as_int64(), singleton) << "workers rotate; the singleton stays";

    const Exchange restarted =
        round_trip(site.admin, "POST /sites/bus/restart HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    ASSERT_EQ(restarted.status(), 200) << restarted.response;
    std::int64_t replacement = 0;
    ASSERT_TRUE(wait_until([&] {
        replacement = site.site_status().at("singleton").at("pid").as_int64();
        return replacement != singleton && replacement != 0;
    })) << vhostd.log();
    ASSERT_TRUE(vhostd.wait_for_log("singleton (pid " + std::to_string(replacement) + "): ready after")) << vhostd.log();
    ASSERT_TRUE(wait_until([&] {
        const json::array workers = site.site_status().at("workers").as_array();
        return workers.size() == 2 && std::all_of(workers.begin(), workers.end(), [](const json::value& w) {
                   return w.at("generation").to_number<unsigned>() == 2 && w.at("state").as_string() == "ready";
               });
    })) << vhostd.log();
    // Line by line: the new singleton said ready before any worker of the new generation started.
    std::istringstream lines(vhostd.log());
    std::string line;
    bool singleton_ready = false;
    bool new_worker_seen = false;
    while (!new_worker_seen && std::getline(lines, line)) {
        if (line.find("singleton (pid " + std::to_string(replacement) + "): ready after") != std::string::npos) singleton_ready = true;
        new_worker_seen = line.find(" worker ") != std::string::npos && line.find("started (generation 2)") != std::string::npos;
    }
    ASSERT_TRUE(new_worker_seen) << vhostd.log();
    EXPECT_TRUE(singleton_ready) << "a new worker started first: " << line << "\n" << vhostd.log();
}
