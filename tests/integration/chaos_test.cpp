// Scenario: steady traffic to two sites while workers are killed (SIGKILL), frozen
// (SIGSTOP, so only their missing heartbeats give them away) and the config is reloaded, for
// a bounded time. Every request must get an HTTP answer (200, or 503), none may hang, and a
// connection may go unanswered only if vhostd had handed it to a worker that the chaos then
// took down: the access log names the worker each connection went to.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <optional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

using namespace vhostd::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr auto chaos_time = std::chrono::seconds(6);
constexpr auto answer_limit = std::chrono::seconds(5);

struct Outcome {
    int status = 0;             // 0: no HTTP answer
    std::uint16_t local_port = 0;
    bool timed_out = false;
    // When the connection existed: client ports are reused over a run, so the access log
    // entry that belongs to it is the one for its port within this window.
    std::chrono::system_clock::time_point began;
    std::chrono::system_clock::time_point ended;
};

// One request on a new connection; remembers the client port to find it in the access log.
Outcome request(std::uint16_t port, const std::string& host) {
    Outcome outcome;
    outcome.began = std::chrono::system_clock::now();
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        sockaddr_in local{};
        socklen_t length = sizeof local;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
        outcome.local_port = ntohs(local.sin_port);
        const std::string head = "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
        ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
        std::string response;
        const auto deadline = std::chrono::steady_clock::now() + answer_limit;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            pollfd wait{fd, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&wait, 1, static_cast<int>(left.count())) <= 0) {
                outcome.timed_out = true;
                break;
            }
            char buffer[4096];
            const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
            if (got <= 0) break;
            response.append(buffer, static_cast<std::size_t>(got));
        }
        if (response.starts_with("HTTP/1.1 ")) outcome.status = std::atoi(response.c_str() + 9);
    }
    ::close(fd);
    outcome.ended = std::chrono::system_clock::now();
    return outcome;
}

// "2026-11-21T15:32:23.788+0000" (the access log's time) as a time point.
std::chrono::system_clock::time_point parse_time(const std::string& text) {
    std::tm fields{};
    std::istringstream in(text);
    in >> std::get_time(&fields, "%Y-%m-%dT%H:%M:%S");
    int milliseconds = 0;
    char dot = 0;
    in >> dot >> milliseconds;
    return std::chrono::system_clock::from_time_t(::timegm(&fields)) + std::chrono::milliseconds(milliseconds);
}

std::string config(std::uint16_t port, const std::string& access_log, int round) {
    const std::string pool = "heartbeat_timeout = \"1s\"\nkill_timeout = \"300ms\"\nstart_timeout = \"5s\"\n"
                             "restart_backoff = { initial = \"10ms\", max = \"50ms\" }\n"
                             "restart_limit = { count = 100000, window = \"1s\" }\n";
    return listen_on(port) + "[server]\naccess_log = \"" + access_log + "\"\naccess_log_format = \"json\"\n\n" +
           hello_site("blog", R"(["blog.example"])", 3, pool + "env = { ROUND = \"" + std::to_string(round) + "\" }") +
           hello_site("shop", R"(["shop.example"])", 3, pool);
}

TEST(Chaos, KillsFreezesAndReloadsUnderLoadLoseNothingTheFrontHeld) {
    TempDir dir;
    const std::uint16_t port = free_port();
    const std::string access_log = (dir.path() / "access.log").string();
    VhostdProcess vhostd(dir, config(port, access_log, 0));
    ASSERT_TRUE(vhostd.wait_until_serving(port, "blog.example", 3)) << vhostd.log();
    ASSERT_TRUE(vhostd.wait_until_serving(port, "shop.example", 3)) << vhostd.log();

    std::atomic<bool> running{true};
    std::mutex results_mutex;
    std::vector<Outcome> outcomes;
    std::vector<std::thread> clients;
    for (int i = 0; i < 4; ++i) {
        clients.emplace_back([&, i] {
            std::vector<Outcome> mine;
            for (std::size_t n = 0; running && n < 100'000; ++n) mine.push_back(request(port, i % 2 ? "blog.example" : "shop.example"));
            std::lock_guard lock(results_mutex);
            outcomes.insert(outcomes.end(), mine.begin(), mine.end());
        });
    }

    const unsigned seed = std::random_device{}();
    std::mt19937 random(seed);
    std::set<pid_t> victims;  // killed or frozen by the chaos: their connections may be lost
    std::map<std::string, int> actions;
    int round = 0;
    const auto end = std::chrono::steady_clock::now() + chaos_time;
    while (std::chrono::steady_clock::now() < end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100 + random() % 150));  // the pace of the chaos, not a wait
        const std::vector<pid_t> workers = vhostd.workers();
        const unsigned dice = random() % 100;
        if (dice < 30) {
            ASSERT_TRUE(vhostd.reload(config(port, access_log, ++round))) << vhostd.log();
            ++actions["reload"];
        } else if (!workers.empty()) {
            const pid_t victim = workers[random() % workers.size()];
            victims.insert(victim);
            ::kill(victim, dice < 75 ? SIGKILL : SIGSTOP);
            ++actions[dice < 75 ? "SIGKILL" : "SIGSTOP"];
        }
    }
    running = false;
    for (std::thread& client : clients) client.join();
    // After the chaos both sites serve again.
    EXPECT_TRUE(vhostd.wait_until_serving(port, "blog.example")) << vhostd.log();
    EXPECT_TRUE(vhostd.wait_until_serving(port, "shop.example")) << vhostd.log();
    const auto stopped = vhostd.stop(SIGTERM);  // flushes the access log
    ASSERT_TRUE(stopped && WIFEXITED(*stopped)) << vhostd.log();

    // Which worker each connection was handed to: by client port, then by time.
    struct Handoff {
        std::chrono::system_clock::time_point at;
        pid_t worker;
    };
    std::map<std::uint16_t, std::vector<Handoff>> handoffs;
    std::ifstream log(access_log);
    for (std::string line; std::getline(log, line);) {
        const json::object entry = json::parse(line).as_object();
        if (entry.at("outcome").as_string() != "handed") continue;
        const std::string client(entry.at("client").as_string());
        handoffs[static_cast<std::uint16_t>(std::stoi(client.substr(client.rfind(':') + 1)))].push_back(
            {parse_time(std::string(entry.at("time").as_string())), static_cast<pid_t>(entry.at("worker_pid").to_number<int>())});
    }
    auto handed_to = [&](const Outcome& outcome) -> std::optional<pid_t> {
        const auto found = handoffs.find(outcome.local_port);
        if (found == handoffs.end()) return std::nullopt;
        for (const Handoff& handoff : found->second) {  // the log has millisecond times
            if (handoff.at >= outcome.began - 1ms && handoff.at <= outcome.ended + 1ms) return handoff.worker;
        }
        return std::nullopt;
    };

    std::map<int, std::size_t> by_status;
    std::size_t unanswered = 0, excused = 0, timed_out = 0;
    for (const Outcome& outcome : outcomes) {
        ++by_status[outcome.status];
        timed_out += outcome.timed_out;
        if (outcome.status != 0) continue;
        ++unanswered;
        const std::optional<pid_t> handed = handed_to(outcome);
        if (handed && victims.contains(*handed)) {
            ++excused;
        } else {
            std::string story;  // what vhostd logged about that worker
            if (handed) {
                std::istringstream lines(vhostd.log());
                for (std::string line; std::getline(lines, line);) {
                    if (line.find("(pid " + std::to_string(*handed) + ")") != std::string::npos) story += line + "\n";
                }
            }
            ADD_FAILURE() << "client port " << outcome.local_port << " got no answer and was not handed to a worker the chaos took down"
                          << (handed ? " (worker " + std::to_string(*handed) + ")\n" + story : " (never handed)");
        }
    }
    std::cout << "seed " << seed << "; " << outcomes.size() << " requests; " << actions["SIGKILL"] << " SIGKILL, " << actions["SIGSTOP"]
              << " SIGSTOP, " << actions["reload"] << " reloads; 200: " << by_status[200] << ", 503: " << by_status[503]
              << ", no answer: " << unanswered << " (all with a killed or frozen worker: " << excused << ")\n";
    EXPECT_GT(by_status[200], outcomes.size() / 2);
    EXPECT_EQ(timed_out, 0u) << "no request may hang";
    for (const auto& [status, count] : by_status) EXPECT_TRUE(status == 0 || status == 200 || status == 503) << count << " x " << status;
}

}  // namespace
