// SitePool driven through a fake ProcessHost: fake processes, a fake clock, and the real
// channel, on which each test plays the worker. The pool's own timers never fire here (the
// fake clock is far from the real one); the tests move time and call tick() as the
// supervisor does.
#include "fake_process_host.hpp"

#include "protocol/message.hpp"
#include "supervisor/affinity.hpp"
#include "supervisor/connection_queue.hpp"
#include "supervisor/site_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vhostd::supervisor {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using protocol::FileDescriptor;
using testing::FakeProcess;
using testing::FakeProcessHost;

const int crashed = W_EXITCODE(1, 0);

conf::Site fake_site() {
    conf::Site site;
    site.name = "fake";
    site.hosts = {"fake.test"};
    site.command = {"fake-worker"};
    site.cwd = "/";
    site.min_workers = site.max_workers = 1;
    site.max_age = 0s;  // no rotation unless a test asks for it
    // Long enough that moving the fake clock never makes a worker silent, slow or idle.
    site.heartbeat_timeout = site.start_timeout = site.idle_timeout = 1h;
    site.restart_backoff = {.initial = 1s, .max = 60s};
    site.restart_limit = {.count = 2, .window = 60s, .cooldown = 30s};
    site.queue_timeout = 5s;
    return site;
}

struct Rejection {
    int retry_after;
    std::string why;
};

class SitePoolTest : public ::testing::Test {
protected:
    // Declared in this order so that the pool goes first, then the host it uses, then the
    // io_context that still holds the pool's coroutines.
    asio::io_context io;
    FakeProcessHost host;
    conf::Site site = fake_site();
    std::vector<FileDescriptor> client_ends;  // the clients of the connections dispatched
    std::vector<Rejection> rejections;
    std::map<pid_t, std::string> unread;      // per fake worker, bytes read but not a whole line yet
    std::unique_ptr<SitePool> pool;

    void TearDown() override {
        for (const std::string& what : host.misuse()) ADD_FAILURE() << "the pool made a " << what;
    }

    void start_pool() {
        pool = std::make_unique<SitePool>(asio::make_strand(io), host, site, nullptr);
        pool->start();
        settle();
    }

    // Runs what is ready now, a few rounds, so that what one handler starts also runs.
    void settle() {
        for (int round = 0; round < 20; ++round) {
            io.restart();
            if (io.poll() == 0) break;
        }
    }

    // Runs the io_context until `done`, for at most two real seconds.
    template <class Condition>
    bool run_until(Condition done) {
        const auto give_up = std::chrono::steady_clock::now() + 2s;
        while (!done()) {
            if (std::chrono::steady_clock::now() >= give_up) return false;
            io.restart();
            io.run_one_for(10ms);
        }
        return true;
    }

    void tick_after(std::chrono::steady_clock::duration by) {
        host.advance(by);
        pool->tick(host.now(), false);
        settle();
    }

    const Worker* worker_of(const FakeProcess& process) const {
        for (const auto& worker : pool->workers()) {
            if (worker->pid() == process.pid) return worker.get();
        }
        return nullptr;
    }

    // The worker's side of the channel.
    void say(FakeProcess& process, const std::string& line) {
        ASSERT_EQ(::send(process.channel.get(), line.data(), line.size(), MSG_NOSIGNAL), static_cast<ssize_t>(line.size()));
    }
    void say_ready(FakeProcess& process) {
        say(process, protocol::encode_command(protocol::command::ready));
        ASSERT_TRUE(run_until([&] { return worker_of(process) && worker_of(process)->state() == WorkerState::ready; }));
        settle();
    }
    void crash(FakeProcess& process) {
        host.exit(process, crashed);
        ASSERT_TRUE(run_until([&] { return process.reaped && !worker_of(process); }));
        settle();
    }

    // The commands vhostd has sent this worker since the last call (fds it attached are
    // dropped: the kernel closes them, and the pool keeps its own copy until an ack).
    std::vector<std::string> commands_sent_to(FakeProcess& process) {
        std::string& pending = unread[process.pid];
        char chunk[4096];
        for (ssize_t got; (got = ::recv(process.channel.get(), chunk, sizeof chunk, MSG_DONTWAIT)) > 0;) pending.append(chunk, got);
        std::vector<std::string> commands;
        for (std::size_t newline; (newline = pending.find('\n')) != std::string::npos; pending.erase(0, newline + 1)) {
            const auto message = boost::json::parse(std::string_view(pending).substr(0, newline)).as_object();
            commands.emplace_back(protocol::command_of(message));
        }
        return commands;
    }
    // Waits for `command` on the worker's channel, dropping what comes before it.
    bool await_command(FakeProcess& process, std::string_view command) {
        return run_until([&] {
            const auto commands = commands_sent_to(process);
            return std::find(commands.begin(), commands.end(), command) != commands.end();
        });
    }

    void dispatch_connection(std::string head = {}, std::string client_address = "192.0.2.1") {
        int pair[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        client_ends.emplace_back(pair[1]);
        protocol::PendingConnection connection;
        connection.socket = FileDescriptor(pair[0]);
        connection.info.id = client_ends.size();
        connection.info.site = site.name;
        connection.info.host = "fake.test";
        connection.info.remote_address = std::move(client_address);
        connection.head = std::move(head);
        connection.accepted_at = host.now();
        connection.reject = [this](FileDescriptor, int retry_after, const char* why) { rejections.push_back({retry_after, why}); };
        pool->dispatch(std::move(connection));
        settle();
    }
};

TEST_F(SitePoolTest, ACrashedWorkerStartsAgainAfterABackoffThatDoubles) {
    start_pool();
    ASSERT_EQ(host.started(), 1u);

    crash(host.process(0));
    tick_after(999ms);
    EXPECT_EQ(host.started(), 1u) << "started again before the backoff's first delay (1 s)";
    tick_after(1ms);
    ASSERT_EQ(host.started(), 2u);

    crash(host.process(1));
    tick_after(1999ms);
    EXPECT_EQ(host.started(), 2u) << "the second delay should be twice the first";
    tick_after(1ms);
    EXPECT_EQ(host.started(), 3u);
    EXPECT_TRUE(host.process(0).got_signal(SIGKILL)) << "what the worker left in its group goes with it";
}

TEST_F(SitePoolTest, QuarantineAnswers503WithARetryAfterThatCountsDown) {
    start_pool();
    // restart_limit.count = 2: the third crash within the window quarantines the site.
    crash(host.process(0));
    tick_after(1s);
    crash(host.process(1));
    tick_after(2s);
    ASSERT_EQ(host.started(), 3u);
    crash(host.process(2));

    dispatch_connection();
    ASSERT_EQ(rejections.size(), 1u);
    EXPECT_EQ(rejections[0].retry_after, 30);
    EXPECT_EQ(rejections[0].why, to_string(RejectReason::quarantined));
    EXPECT_TRUE(pool->snapshot().quarantined);

    tick_after(10500ms);
    dispatch_connection();
    ASSERT_EQ(rejections.size(), 2u);
    EXPECT_EQ(rejections[1].retry_after, 20) << "19.5 s left, rounded up";

    tick_after(19499ms);
    EXPECT_EQ(host.started(), 3u) << "no start during the cooldown";
    tick_after(1ms);
    EXPECT_EQ(host.started(), 4u) << "the cooldown is over: the pool starts again";
    EXPECT_FALSE(pool->snapshot().quarantined);
    dispatch_connection();
    EXPECT_EQ(rejections.size(), 2u) << "after the quarantine a connection waits for the starting worker";
}

TEST_F(SitePoolTest, AConnectionNoWorkerTakesGets503AfterTheQueueTimeout) {
    start_pool();  // the worker never says ready
    dispatch_connection();
    EXPECT_TRUE(rejections.empty());
    EXPECT_EQ(pool->snapshot().queue_length, 1u);

    tick_after(4999ms);
    EXPECT_TRUE(rejections.empty()) << "answered before queue_timeout (5 s)";
    tick_after(1ms);
    ASSERT_EQ(rejections.size(), 1u);
    EXPECT_EQ(rejections[0].retry_after, 1);
    EXPECT_EQ(rejections[0].why, to_string(RejectReason::queue_timeout));
    EXPECT_EQ(pool->snapshot().queue_length, 0u);
}

TEST_F(SitePoolTest, AWaitingConnectionGoesToTheWorkerThatBecomesReady) {
    start_pool();
    dispatch_connection();
    tick_after(4s);
    say_ready(host.process(0));
    EXPECT_TRUE(await_command(host.process(0), protocol::command::handle));
    tick_after(2s);
    EXPECT_TRUE(rejections.empty());
}

TEST_F(SitePoolTest, ARefusedConnectionGoesToAnotherWorkerAndAfterThreeRefusalsGets503) {
    site.min_workers = site.max_workers = 2;
    start_pool();
    ASSERT_EQ(host.started(), 2u);
    FakeProcess& idle = host.process(0);
    FakeProcess& busy = host.process(1);
    say_ready(idle);
    say_ready(busy);
    // The busy one is never the least loaded: only the refuser-last rule sends it there.
    protocol::Heartbeat heartbeat;
    heartbeat.active_connections = 5;
    say(busy, protocol::encode_heartbeat(heartbeat));
    ASSERT_TRUE(run_until([&] { return worker_of(busy)->load() == 5; }));

    dispatch_connection();
    ASSERT_TRUE(await_command(idle, protocol::command::handle)) << "the least loaded worker first";
    say(idle, protocol::encode_command(protocol::command::handle_nack));
    ASSERT_TRUE(await_command(busy, protocol::command::handle)) << "refused: another worker, though busier";
    EXPECT_TRUE(commands_sent_to(idle).empty());
    say(busy, protocol::encode_command(protocol::command::handle_nack));
    ASSERT_TRUE(await_command(idle, protocol::command::handle)) << "refused again: back to the other one";
    EXPECT_TRUE(rejections.empty());
    say(idle, protocol::encode_command(protocol::command::handle_nack));
    ASSERT_TRUE(run_until([&] { return !rejections.empty(); }));
    EXPECT_EQ(rejections[0].retry_after, 1);
    EXPECT_EQ(rejections[0].why, to_string(RejectReason::refused_too_often));
    settle();
    EXPECT_TRUE(commands_sent_to(idle).empty());
    EXPECT_TRUE(commands_sent_to(busy).empty());
}

class SitePoolRotationTest : public SitePoolTest {
protected:
    // Two workers of different ages: `old` from the start, `young` started 50 s later (its
    // first process crashed). With max_age = 100 s (minus up to 10% of jitter) `old` rotates
    // in [90 s, 100 s], `young` in [140 s, 150 s].
    FakeProcess* old = nullptr;
    FakeProcess* young = nullptr;

    void SetUp() override {
        site.min_workers = site.max_workers = 2;
        site.max_age = 100s;
        start_pool();
        ASSERT_EQ(host.started(), 2u);
        old = &host.process(0);
        say_ready(*old);
        crash(host.process(1));
        tick_after(50s);
        ASSERT_EQ(host.started(), 3u);
        young = &host.process(2);
        say_ready(*young);
    }
};

TEST_F(SitePoolRotationTest, TheWorkerPastMaxAgeDrainsOnceItsReplacementIsReady) {
    tick_after(50s);  // 100 s: only `old` is past its age
    ASSERT_EQ(host.started(), 4u) << "its replacement starts";
    FakeProcess& replacement = host.process(3);
    EXPECT_TRUE(worker_of(*old)->retiring());
    EXPECT_FALSE(worker_of(*young)->retiring());
    EXPECT_TRUE(commands_sent_to(*old).empty()) << "it serves until its replacement is ready";

    say_ready(replacement);
    EXPECT_TRUE(await_command(*old, protocol::command::drain));
    EXPECT_EQ(worker_of(*old)->state(), WorkerState::draining);
    EXPECT_TRUE(commands_sent_to(*young).empty());
    EXPECT_EQ(worker_of(*young)->state(), WorkerState::ready);
    EXPECT_EQ(worker_of(replacement)->slot(), worker_of(*old)->slot()) << "the replacement takes the retiring worker's slot";
}

TEST_F(SitePoolRotationTest, RotationsThatOverlapGoOneAfterAnotherAndEachDrainsItsOwnWorker) {
    tick_after(50s);  // 100 s: `old` retires, its replacement starts
    ASSERT_EQ(host.started(), 4u);
    FakeProcess& old_replacement = host.process(3);
    tick_after(50s);  // 150 s: `young` retires too, while the first replacement still starts
    EXPECT_TRUE(worker_of(*young)->retiring());
    EXPECT_EQ(host.started(), 4u) << "max_surge = 1: the second replacement waits";

    say_ready(old_replacement);
    EXPECT_TRUE(await_command(*old, protocol::command::drain));
    EXPECT_TRUE(commands_sent_to(*young).empty()) << "only the worker the ready one was started for drains";
    EXPECT_EQ(worker_of(*young)->state(), WorkerState::ready);
    tick_after(100ms);
    EXPECT_EQ(host.started(), 4u) << "not while `old` drains: that would be N + 2 processes";

    host.exit(*old, 0);
    ASSERT_TRUE(run_until([&] { return host.started() == 5u; })) << "its exit makes room for the next";
    FakeProcess& young_replacement = host.process(4);
    EXPECT_EQ(worker_of(young_replacement)->slot(), worker_of(*young)->slot());
    say_ready(young_replacement);
    EXPECT_TRUE(await_command(*young, protocol::command::drain));
}

TEST_F(SitePoolRotationTest, WithMaxSurgeTwoBothReplacementsStartTogether) {
    site.max_surge = 2;
    pool->update(site, false);
    tick_after(100s);  // 150 s: both are past their age
    ASSERT_EQ(host.started(), 5u);
    FakeProcess& first = host.process(3);
    FakeProcess& second = host.process(4);
    say_ready(second);
    const bool second_is_youngs = worker_of(second)->slot() == worker_of(*young)->slot();
    FakeProcess& paired = second_is_youngs ? *young : *old;
    FakeProcess& other = second_is_youngs ? *old : *young;
    EXPECT_TRUE(await_command(paired, protocol::command::drain));
    EXPECT_TRUE(commands_sent_to(other).empty());
    say_ready(first);
    EXPECT_TRUE(await_command(other, protocol::command::drain));
}

class SitePoolRollTest : public SitePoolTest {
protected:
    std::vector<FakeProcess*> first_generation;

    void SetUp() override {
        site.min_workers = site.max_workers = 3;
        start_pool();
        ASSERT_EQ(host.started(), 3u);
        for (std::size_t i = 0; i < 3; ++i) {
            first_generation.push_back(&host.process(i));
            say_ready(host.process(i));
        }
    }

    // A restart: the first replacement starts, and only it.
    void restart() {
        pool->restart();
        settle();
        ASSERT_EQ(host.started(), 4u);
    }
    // N + max_surge processes at most, N of them ready.
    void expect_within_the_surge() const {
        EXPECT_LE(pool->workers().size(), 4u);
        EXPECT_EQ(count(WorkerState::ready), 3u);
    }

    std::size_t count(WorkerState state) const {
        return static_cast<std::size_t>(std::count_if(pool->workers().begin(), pool->workers().end(),
                                                      [state](const auto& w) { return w->state() == state; }));
    }
};

// vhostctl restart (and a reload, and --dev) roll the pool one worker at a time: N ready
// throughout, never more than N + 1 processes, each drain the one its replacement was for.
TEST_F(SitePoolRollTest, ARestartReplacesOneWorkerAtATime) {
    pool->restart();
    settle();
    for (std::size_t i = 0; i < 3; ++i) {
        ASSERT_EQ(host.started(), 4 + i) << "one replacement at a time";
        EXPECT_LE(pool->workers().size(), 4u);
        EXPECT_EQ(count(WorkerState::ready), 3u);
        const SiteSnapshot status = pool->snapshot();
        EXPECT_EQ(status.roll_of, 3u);
        EXPECT_EQ(status.roll_replaced, i);
        FakeProcess& replacement = host.process(3 + i);
        FakeProcess& replaced = *first_generation[i];
        EXPECT_EQ(worker_of(replacement)->slot(), worker_of(replaced)->slot());
        say_ready(replacement);
        EXPECT_TRUE(await_command(replaced, protocol::command::drain));
        EXPECT_EQ(count(WorkerState::ready), 3u);
        EXPECT_EQ(count(WorkerState::draining), 1u);
        host.exit(replaced, 0);
        ASSERT_TRUE(run_until([&] { return replaced.reaped; }));
        settle();
    }
    tick_after(100ms);
    EXPECT_EQ(host.started(), 6u);
    EXPECT_EQ(pool->snapshot().roll_of, 0u) << "the roll is over";
}

// A reload to fewer workers: the surplus drains at once (highest slots first, so the slots
// stay 0 … N-1) while the others wait for their replacements, which come one at a time.
TEST_F(SitePoolRollTest, AReloadToFewerWorkersKeepsTheSlotsFromZero) {
    site.min_workers = site.max_workers = 2;
    site.env["RELEASE"] = "2";
    pool->update(site, true);
    tick_after(100ms);
    EXPECT_TRUE(await_command(*first_generation[2], protocol::command::drain)) << "slot 2 is not needed any more";
    EXPECT_EQ(host.started(), 3u) << "three processes already: N + max_surge";
    host.exit(*first_generation[2], 0);
    ASSERT_TRUE(run_until([&] { return host.started() == 4u; }));
    EXPECT_EQ(worker_of(host.process(3))->slot(), 0u);
    say_ready(host.process(3));
    EXPECT_TRUE(await_command(*first_generation[0], protocol::command::drain));
    host.exit(*first_generation[0], 0);
    ASSERT_TRUE(run_until([&] { return host.started() == 5u; }));
    EXPECT_EQ(worker_of(host.process(4))->slot(), 1u);
}

// cron_restart rolls the pool as a restart does: one replacement at a time, counted as cron.
TEST_F(SitePoolRollTest, CronRestartRollsThePoolAtItsTime) {
    std::string problem;
    site.cron_restart = conf::CronSchedule::parse("* * * * *", problem);
    pool->update(site, false);
    settle();
    EXPECT_EQ(host.started(), 3u) << "not before its minute";
    tick_after(61s);
    EXPECT_EQ(host.started(), 4u) << "one replacement at a time";
    EXPECT_EQ(pool->snapshot().roll_of, 3u);
    EXPECT_EQ(pool->snapshot().restarts.at("cron"), 3u);
    expect_within_the_surge();
}

// Workers still starting when a restart comes are replaced like the others, not all at once.
TEST_F(SitePoolRollTest, ARestartWhileWorkersStartStaysWithinTheSurge) {
    ASSERT_NO_FATAL_FAILURE(restart());
    pool->restart();  // again, while the first replacement starts
    settle();
    tick_after(100ms);
    expect_within_the_surge();
}

// A retiring worker that crashes before its replacement is ready: its replacement simply
// takes the slot, and the pair ends.
TEST_F(SitePoolRollTest, ARetiringWorkerThatCrashesLeavesItsReplacementTheSlot) {
    ASSERT_NO_FATAL_FAILURE(restart());
    FakeProcess& replacement = host.process(3);
    crash(*first_generation[0]);
    EXPECT_EQ(worker_of(replacement)->replaces(), 0) << "the pair ended with the crash";
    say_ready(replacement);
    EXPECT_TRUE(commands_sent_to(*first_generation[1]).empty()) << "no other worker drains for it";
    tick_after(1s);
    expect_within_the_surge();
}

TEST_F(SitePoolRollTest, AReplacementThatFailsStopsTheRollAndItsWorkerKeepsServing) {
    ASSERT_NO_FATAL_FAILURE(restart());
    crash(host.process(3));
    EXPECT_EQ(worker_of(*first_generation[0])->state(), WorkerState::ready) << "it keeps serving";
    EXPECT_TRUE(commands_sent_to(*first_generation[0]).empty());
    const SiteSnapshot status = pool->snapshot();
    EXPECT_EQ(status.roll_replaced, 0u);
    EXPECT_NE(status.roll_problem.find("exited with code 1 before it was ready"), std::string::npos) << status.roll_problem;
    EXPECT_EQ(host.started(), 4u) << "no other worker is replaced meanwhile";

    tick_after(1s);  // restart_backoff.initial
    ASSERT_EQ(host.started(), 5u) << "tried again after the backoff";
    FakeProcess& again = host.process(4);
    EXPECT_EQ(worker_of(again)->slot(), worker_of(*first_generation[0])->slot());
    say_ready(again);
    EXPECT_TRUE(await_command(*first_generation[0], protocol::command::drain));
    EXPECT_TRUE(pool->snapshot().roll_problem.empty()) << "a replacement took over: the problem is gone";
}

}  // namespace
}  // namespace vhostd::supervisor

namespace vhostd::supervisor {
namespace {

// affinity = { cookie = "sid" }: each session's connections reach its slot's worker.
class SitePoolAffinityTest : public SitePoolTest {
protected:
    void SetUp() override {
        site.affinity = {.by = conf::Affinity::By::cookie, .cookie = "sid"};
        site.min_workers = site.max_workers = 3;
    }

    // The head of a request of the `nth` session (of those) whose cookie's slot is `slot`.
    std::string head_in_slot(unsigned slot, int nth = 0) const {
        const conf::Affinity by_cookie{.by = conf::Affinity::By::cookie, .cookie = "sid"};
        for (int i = 0; i < 10'000; ++i) {
            const std::string head = "GET / HTTP/1.1\r\nHost: fake.test\r\nCookie: sid=session" + std::to_string(i) + "\r\n\r\n";
            if (affinity_slot(*affinity_key(by_cookie, "", head), site.max_workers) == slot && nth-- == 0) return head;
        }
        ADD_FAILURE() << "no session found for slot " << slot;
        return {};
    }

    FakeProcess& in_slot(unsigned slot) {
        for (std::size_t i = 0; i < host.started(); ++i) {
            const Worker* worker = worker_of(host.process(i));
            if (worker && worker->live() && !worker->retiring() && worker->slot() == slot) return host.process(i);
        }
        ADD_FAILURE() << "no worker in slot " << slot;
        return host.process(0);
    }

    std::size_t handoffs_to(FakeProcess& process) {
        const auto commands = commands_sent_to(process);
        return static_cast<std::size_t>(std::count(commands.begin(), commands.end(), protocol::command::handle));
    }

    void start_ready_pool() {
        start_pool();
        ASSERT_EQ(host.started(), site.max_workers);
        for (std::size_t i = 0; i < host.started(); ++i) say_ready(host.process(i));
    }
};

TEST_F(SitePoolAffinityTest, EveryConnectionOfASessionGoesToItsSlotsWorker) {
    ASSERT_NO_FATAL_FAILURE(start_ready_pool());
    for (unsigned slot = 0; slot < 3; ++slot) {
        // Without affinity these three would go to three workers: the least loaded first.
        for (int connection = 0; connection < 3; ++connection) dispatch_connection(head_in_slot(slot, connection % 2));
        for (unsigned other = 0; other < 3; ++other) {
            EXPECT_EQ(handoffs_to(in_slot(other)), other == slot ? 3u : 0u) << "sessions of slot " << slot;
        }
    }
    EXPECT_TRUE(rejections.empty());
}

TEST_F(SitePoolAffinityTest, WithoutTheCookieTheLeastBusyWorkerGetsIt) {
    ASSERT_NO_FATAL_FAILURE(start_ready_pool());
    protocol::Heartbeat busy;
    busy.active_connections = 5;
    say(in_slot(0), protocol::encode_heartbeat(busy));
    say(in_slot(2), protocol::encode_heartbeat(busy));
    ASSERT_TRUE(run_until([&] { return worker_of(in_slot(2))->load() == 5 && worker_of(in_slot(0))->load() == 5; }));
    dispatch_connection("GET / HTTP/1.1\r\nHost: fake.test\r\nCookie: other=1\r\n\r\n");
    EXPECT_EQ(handoffs_to(in_slot(1)), 1u);
}

TEST_F(SitePoolAffinityTest, ByClientTheAddressPicksTheSlot) {
    site.affinity = {.by = conf::Affinity::By::client, .cookie = {}};
    ASSERT_NO_FATAL_FAILURE(start_ready_pool());
    const unsigned slot = affinity_slot(*affinity_key(site.affinity, "198.51.100.7", ""), 3);
    for (int connection = 0; connection < 4; ++connection) dispatch_connection(head_in_slot(connection % 3), "198.51.100.7");
    EXPECT_EQ(handoffs_to(in_slot(slot)), 4u) << "the cookie plays no part";
}

// Slots, not pids: the worker that replaces slot 1's gets slot 1's sessions.
TEST_F(SitePoolAffinityTest, TheReplacementOfASlotGetsItsSessions) {
    ASSERT_NO_FATAL_FAILURE(start_ready_pool());
    FakeProcess& old_worker = in_slot(1);
    pool->restart();
    settle();
    // One at a time, in slot order of age: run the roll until slot 1's replacement serves.
    for (std::size_t started = 3; started < 6; ++started) {
        ASSERT_EQ(host.started(), started + 1);
        FakeProcess& replacement = host.process(started);
        const pid_t replaced = worker_of(replacement)->replaces();
        say_ready(replacement);
        for (std::size_t i = 0; i < started; ++i) {
            if (host.process(i).pid != replaced) continue;
            ASSERT_TRUE(await_command(host.process(i), protocol::command::drain));
            host.exit(host.process(i), 0);
            ASSERT_TRUE(run_until([&] { return host.process(i).reaped; }));
        }
        settle();
        if (old_worker.reaped) break;
    }
    FakeProcess& new_worker = in_slot(1);
    ASSERT_NE(new_worker.pid, old_worker.pid);
    dispatch_connection(head_in_slot(1));
    dispatch_connection(head_in_slot(1, 1));
    EXPECT_EQ(handoffs_to(new_worker), 2u);
}

// max_in_flight = 1: a connection whose slot's worker is full waits, and those for other
// slots go ahead of it, arriving or already waiting.
TEST_F(SitePoolAffinityTest, AConnectionWaitingForItsSlotHoldsUpNoOther) {
    site.max_in_flight = 1;
    ASSERT_NO_FATAL_FAILURE(start_ready_pool());
    dispatch_connection(head_in_slot(0));
    dispatch_connection(head_in_slot(1));
    ASSERT_EQ(handoffs_to(in_slot(0)), 1u);
    ASSERT_EQ(handoffs_to(in_slot(1)), 1u);
    dispatch_connection(head_in_slot(0, 1));  // waits: slot 0 is full
    dispatch_connection(head_in_slot(2));     // goes ahead of it
    EXPECT_EQ(handoffs_to(in_slot(2)), 1u);
    dispatch_connection(head_in_slot(1, 1));  // waits behind the one of slot 0
    EXPECT_EQ(pool->snapshot().queue_length, 2u);

    say(in_slot(1), protocol::encode_command(protocol::command::handle_ack));
    ASSERT_TRUE(run_until([&] { return pool->snapshot().queue_length == 1u; })) << "slot 1's went past slot 0's";
    EXPECT_EQ(handoffs_to(in_slot(1)), 1u);
    EXPECT_EQ(handoffs_to(in_slot(0)), 0u);
    say(in_slot(0), protocol::encode_command(protocol::command::handle_ack));
    ASSERT_TRUE(run_until([&] { return pool->snapshot().queue_length == 0u; }));
    EXPECT_EQ(handoffs_to(in_slot(0)), 1u);
    EXPECT_TRUE(rejections.empty());
}

// A fixed pool: the sessions of a crashed worker's slot wait for its replacement rather
// than going to another worker that does not know them.
TEST_F(SitePoolAffinityTest, TheSessionsOfACrashedSlotWaitForItsNewWorker) {
    ASSERT_NO_FATAL_FAILURE(start_ready_pool());
    crash(in_slot(2));
    dispatch_connection(head_in_slot(2));
    EXPECT_EQ(pool->snapshot().queue_length, 1u);
    EXPECT_EQ(handoffs_to(in_slot(0)) + handoffs_to(in_slot(1)), 0u);
    tick_after(1s);  // the restart backoff
    ASSERT_EQ(host.started(), 4u);
    EXPECT_EQ(worker_of(host.process(3))->slot(), 2u);
    say_ready(host.process(3));
    EXPECT_EQ(handoffs_to(host.process(3)), 1u);
    EXPECT_TRUE(rejections.empty());
}

// An on-demand pool starts the worker of the slot a connection waits for.
TEST_F(SitePoolAffinityTest, AnOnDemandPoolStartsTheSlotAConnectionWaitsFor) {
    site.min_workers = 0;
    start_pool();
    ASSERT_EQ(host.started(), 0u);
    dispatch_connection(head_in_slot(2));
    ASSERT_EQ(host.started(), 1u);
    EXPECT_EQ(worker_of(host.process(0))->slot(), 2u);
    dispatch_connection(head_in_slot(0));  // while slot 2's still starts
    ASSERT_EQ(host.started(), 2u);
    EXPECT_EQ(worker_of(host.process(1))->slot(), 0u);
    say_ready(host.process(1));
    EXPECT_EQ(handoffs_to(host.process(1)), 1u);
    say_ready(host.process(0));
    EXPECT_EQ(handoffs_to(host.process(0)), 1u);
    EXPECT_EQ(host.started(), 2u) << "slot 1 is not wanted";
    EXPECT_TRUE(rejections.empty());
}

class SitePoolAffinityReloadTest : public SitePoolAffinityTest {
protected:
    // Plays the workers for a while, ticking between rounds: each starting one says ready,
    // each draining one exits.
    void play_until_settled() {
        for (int round = 0; round < 12; ++round) {
            for (std::size_t i = 0; i < host.started(); ++i) {
                FakeProcess& process = host.process(i);
                const Worker* worker = worker_of(process);
                if (worker && worker->state() == WorkerState::starting) {
                    say_ready(process);
                } else if (worker && worker->state() == WorkerState::draining) {
                    host.exit(process, 0);
                    ASSERT_TRUE(run_until([&] { return process.reaped; }));
                }
            }
            tick_after(100ms);
        }
    }

    std::vector<unsigned> serving_slots() const {
        std::vector<unsigned> slots;
        for (const auto& worker : pool->workers()) {
            if (worker->serving()) slots.push_back(worker->slot());
        }
        std::sort(slots.begin(), slots.end());
        return slots;
    }
};

// An on-demand pool's slots may have gaps ({0, 1, 3}); lowering max_workers to 3 must not
// leave slot 2 without a worker, or its clients would wait in vain.
TEST_F(SitePoolAffinityReloadTest, LoweringMaxWorkersLeavesNoSlotBelowItEmpty) {
    site.min_workers = 0;
    site.max_workers = 4;
    start_pool();
    for (const unsigned slot : {0u, 1u, 3u}) dispatch_connection(head_in_slot(slot));
    ASSERT_NO_FATAL_FAILURE(play_until_settled());
    ASSERT_EQ(serving_slots(), (std::vector<unsigned>{0, 1, 3}));
    site.max_workers = 3;
    pool->update(site, false);
    ASSERT_NO_FATAL_FAILURE(play_until_settled());
    EXPECT_EQ(serving_slots(), (std::vector<unsigned>{0, 1, 2}));
}

// A reload that rolls the pool and lowers its size, with the workers out of slot order (a
// crash put slot 0's worker last) and room to start several replacements at once: the
// slots that stay are 0 … N-1.
TEST_F(SitePoolAffinityReloadTest, ARollToFewerWorkersKeepsTheLowestSlots) {
    site.min_workers = site.max_workers = 4;
    site.max_surge = 4;
    ASSERT_NO_FATAL_FAILURE(start_ready_pool());
    crash(in_slot(0));
    tick_after(1s);
    ASSERT_NO_FATAL_FAILURE(play_until_settled());
    ASSERT_EQ(pool->workers().back()->slot(), 0u);
    site.min_workers = site.max_workers = 2;
    site.env["RELEASE"] = "2";
    pool->update(site, true);
    ASSERT_NO_FATAL_FAILURE(play_until_settled());
    EXPECT_EQ(serving_slots(), (std::vector<unsigned>{0, 1}));
    for (const auto& worker : pool->workers()) EXPECT_EQ(worker->generation(), 2u) << "slot " << worker->slot();
}

}  // namespace
}  // namespace vhostd::supervisor
