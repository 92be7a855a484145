// One site's worker processes and the connections waiting in the front for one of them.
// Keeps the pool at its size through crashes (with backoff and a restart limit), replaces
// workers that are old, fat or hung, grows on demand and shrinks when idle. Lives on the
// supervisor's strand: every member runs there.
#pragma once

#include "conf/config.hpp"
#include "protocol/handoff.hpp"
#include "supervisor/connection_queue.hpp"
#include "supervisor/file_watcher.hpp"
#include "supervisor/latency_histogram.hpp"
#include "supervisor/process_host.hpp"
#include "supervisor/restart_policy.hpp"
#include "supervisor/restart_reason.hpp"
#include "supervisor/site_bus.hpp"
#include "supervisor/site_snapshot.hpp"
#include "supervisor/task_schedule.hpp"
#include "supervisor/worker.hpp"
#include "supervisor/worker_environment.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <spdlog/logger.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <vector>

namespace vhostd::supervisor {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

class SitePool {
public:
    // Every process start, signal, reap and reading of the clock goes through `host`, which
    // must outlive the pool.
    // `head_limits` are the front's, passed on to the workers (read when each one starts).
    SitePool(Strand strand, ProcessHost& host, conf::Site site, std::shared_ptr<spdlog::logger> site_log,
             FrontHeadLimits head_limits = {});

    const conf::Site& site() const { return site_; }

    void start();
    void dispatch(protocol::PendingConnection connection);
    // Called every supervisor tick: timeouts, heartbeats, rotation, idle workers, backoff.
    void tick(Clock::time_point now, bool sample_memory);
    // Reload: new settings; with `replace_workers` the running workers are rolled (the new
    // generation is ready before the old one drains).
    void update(conf::Site site, bool replace_workers, RestartReason counted_as = RestartReason::reload);
    // Hands what it can, answers the rest 503, drains every worker, SIGKILLs what is left
    // after drain_timeout, then calls `done` once no worker is running.
    void stop(std::function<void()> done);
    // Before stop(), in an upgrade: what stopping would answer 503 goes to `successor`.
    void hand_rest_to(std::function<bool(protocol::PendingConnection&)> successor) { successor_ = std::move(successor); }

    const std::vector<std::shared_ptr<Worker>>& workers() const { return workers_; }
    SiteSnapshot snapshot() const;

    // The admin endpoint's controls: roll every worker; drain them all and answer 503 until
    // resume(); start again.
    void restart();
    void pause();
    void resume();
    // From accept to the fd sent to a worker, for every connection handed.
    const LatencyHistogram& handoff_latency() const { return handoff_latency_; }

private:
    void reconcile(Clock::time_point now);
    // Starts a worker in `slot`; `replaces` is the pid of the retiring worker it is for.
    void spawn(Clock::time_point now, unsigned slot, pid_t replaces = 0);
    // Starts a process of the site on a new channel: a worker in `slot`, or the singleton.
    std::shared_ptr<Worker> start_process(unsigned slot, bool singleton, Clock::time_point now);
    void spawn_singleton(Clock::time_point now);
    void on_singleton_exit(const std::shared_ptr<Worker>& singleton, int wait_status);
    void check_timeouts(Worker& process, Clock::time_point now, bool sample_memory);
    BusMembers bus_members() const;
    void run_due_tasks(Clock::time_point now);
    // cron_restart (site_pool_rotation.cpp): a TaskSchedule of its one cron expression.
    void schedule_cron_restart(Clock::time_point now);
    void run_cron_restart(Clock::time_point now);
    void watch_files();
    bool slot_taken(unsigned slot) const;
    unsigned free_slot() const;
    // What the waiting connections need (affinity): the slot of the oldest one that waits
    // for a slot without a worker, and whether any may go to any worker.
    struct QueueNeeds {
        std::optional<unsigned> slot_without_worker;
        bool keyless = false;
    };
    QueueNeeds queue_needs() const;
    // Where the next worker starts: that slot, else the lowest free one.
    unsigned slot_to_fill() const;
    // Rolling replacement (site_pool_rotation.cpp).
    void retire_for_replacement(Worker& worker, const char* why, RestartReason counted_as);
    // Retiring workers still serving whose replacement has not started (or has failed),
    // oldest first.
    std::vector<Worker*> awaiting_replacement() const;
    bool has_replacement(const Worker& retiring) const;
    void retire_the_replaced(Worker& replacement, Clock::time_point now);
    void unpair(const Worker& gone, bool failed, int wait_status);
    std::size_t still_to_replace_count() const;
    void finish_roll_if_done();
    std::size_t serving_count() const;
    std::size_t ready_serving_count() const;
    bool has_live_worker() const;  // ready or starting: quarantine must not turn it away
    Clock::time_point rotation_time(Clock::time_point started_at);
    void drain_surplus_retiring(Clock::time_point now);  // those no replacement will come for
    void apply(Worker& worker, WorkerEvent event, Clock::time_point now);
    void record_failure(Clock::time_point now, Clock::duration ran_for);
    void check_retirement(Worker& worker, Clock::time_point now, bool sample_memory);

    boost::asio::awaitable<void> read_channel(std::shared_ptr<Worker> worker);
    boost::asio::awaitable<void> watch_exit(std::shared_ptr<Worker> worker);
    void on_exit(const std::shared_ptr<Worker>& worker, int wait_status);

    // The worker slot the connection must go to, when the site has affinity and it a key.
    std::optional<unsigned> slot_of(const protocol::PendingConnection& connection) const;
    bool try_hand(protocol::PendingConnection& connection);
    void on_refused(const Worker& worker, protocol::PendingConnection connection, Clock::time_point now);
    void hand_waiting();
    void expire_waiting();
    void arm_queue_timer();
    void reject(protocol::PendingConnection connection, int retry_after, RejectReason why);
    // Answers 503 to everything waiting, when no worker will come for it.
    void reject_waiting_if_down();
    void check_stopped();
    std::string describe(const Worker& worker) const;

    Strand strand_;
    ProcessHost& host_;
    conf::Site site_;
    FrontHeadLimits head_limits_;
    std::string tls_ticket_key_ = new_tls_ticket_key();  // a passthrough site's workers share it
    std::shared_ptr<spdlog::logger> site_log_;  // per-site file of worker output, or null
    unsigned generation_ = 1;
    unsigned target_;                           // workers wanted, min_workers..max_workers
    std::vector<std::shared_ptr<Worker>> workers_;  // every worker not yet reaped
    ConnectionQueue waiting_;
    boost::asio::steady_timer queue_timer_;
    boost::asio::steady_timer spawn_timer_;        // wakes reconcile() when a backoff ends
    std::size_t round_robin_ = 0;
    LatencyHistogram handoff_latency_;
    LatencyHistogram queue_wait_;  // of connections that had to wait for a worker
    std::uint64_t handed_off_ = 0;
    std::uint64_t answered_503_ = 0;
    std::uint64_t requests_of_exited_ = 0;
    std::map<RestartReason, std::uint64_t> restarts_;
    unsigned roll_total_ = 0;      // workers marked for replacement since the roll began
    std::string roll_problem_;     // why the roll is stuck: its last failed replacement
    bool paused_ = false;
    std::function<bool(protocol::PendingConnection&)> successor_;  // set by an upgrade

    RestartPolicy restart_policy_;  // of the workers
    std::minstd_rand jitter_{std::random_device{}()};

    // The singleton: started first, restarted gently after failures, never rotated.
    std::shared_ptr<Worker> singleton_;
    bool singleton_was_ready_ = false;              // workers start only after this
    Backoff singleton_backoff_;
    std::uint64_t singleton_failures_ = 0;
    boost::asio::steady_timer singleton_timer_;     // its restart after a backoff
    SiteBus bus_;
    std::unique_ptr<FileWatcher> watcher_;          // when the site has `watch`
    TaskSchedule task_schedule_;  // per task of site_.tasks, when it runs next
    std::vector<conf::Task> cron_restart_;  // site_.cron_restart as a task, or none
    TaskSchedule cron_restart_schedule_;
    std::uint64_t tasks_run_ = 0;
    std::uint64_t tasks_skipped_ = 0;

    bool stopping_ = false;
    std::function<void()> on_stopped_;
    // Timer handlers hold it weakly: a pool a reload removed may be gone when one runs.
    std::shared_ptr<void> alive_ = std::make_shared<int>(0);
};

}  // namespace vhostd::supervisor
