#include "supervisor/site_pool.hpp"


#include "accesslog/access_log.hpp"
#include "protocol/environment.hpp"
#include "protocol/message.hpp"
#include "supervisor/bundled_program.hpp"
#include "supervisor/output_log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

extern char** environ;

namespace vhostd::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using protocol::FileDescriptor;
using protocol::PendingConnection;

namespace {

constexpr auto healthy_uptime = 10s;  // a worker that ran this long resets the restart backoff
constexpr auto exit_grace = 50ms;     // between a worker's channel closing and its exit showing

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
    return "ended with status " + std::to_string(status);
}

long long milliseconds(Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// A connection can go to another worker only if the dead one never read from it.
bool head_still_unread(const PendingConnection& connection) {
    if (connection.head.empty()) return false;
    std::string peeked(connection.head.size(), '\0');
    const ssize_t got = ::recv(connection.socket.get(), peeked.data(), peeked.size(), MSG_PEEK | MSG_DONTWAIT);
    return got == static_cast<ssize_t>(peeked.size()) && peeked == connection.head;
}

}  // namespace

SitePool::SitePool(Strand strand, conf::Site site, std::shared_ptr<spdlog::logger> site_log)
    : strand_(strand),
      site_(std::move(site)),
      site_log_(std::move(site_log)),
      target_(site_.min_workers),
      queue_timer_(strand),
      spawn_timer_(strand),
      singleton_timer_(strand),
      bus_(site_.name) {}

std::string SitePool::describe(const Worker& worker) const {
    if (worker.is_singleton()) return "site " + site_.name + " singleton (pid " + std::to_string(worker.pid()) + ")";
    return "site " + site_.name + " worker " + std::to_string(worker.slot()) + " (pid " + std::to_string(worker.pid()) + ")";
}

void SitePool::start() {
    const auto now = Clock::now();
    schedule_tasks(now);
    watch_files();
    if (site_.singleton) spawn_singleton(now);
    reconcile(now);
}

std::size_t SitePool::serving_count() const {
    return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return w->serving(); }));
}

std::size_t SitePool::ready_serving_count() const {
    return static_cast<std::size_t>(
        std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return w->serving() && w->state() == WorkerState::ready; }));
}

bool SitePool::has_live_worker() const {
    return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) {
        return w->state() == WorkerState::ready || w->state() == WorkerState::starting;
    });
}

unsigned SitePool::free_slot() const {
    for (unsigned slot = 0;; ++slot) {
        const bool taken = std::any_of(workers_.begin(), workers_.end(), [slot](const auto& w) { return w->serving() && w->slot() == slot; });
        if (!taken) return slot;
    }
}

// Brings the pool to its size: spawns what is missing unless backing off or quarantined,
// and grows an on-demand pool while connections wait.
void SitePool::reconcile(Clock::time_point now) {
    if (stopping_ || paused_) return;
    // Workers may count on the singleton from their first moment: it comes first.
    if (site_.singleton && !singleton_was_ready_) return;
    if (quarantined_until_) {
        if (now < *quarantined_until_) return;
        spdlog::info("site {}: quarantine over; starting workers again", site_.name);
        quarantined_until_.reset();
        recent_failures_.clear();
        consecutive_failures_ = 0;
        next_spawn_at_ = now;
    }
    const bool anyone_starting = std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->state() == WorkerState::starting; });
    if (!waiting_.empty() && !anyone_starting && target_ < site_.max_workers) ++target_;
    target_ = std::clamp(target_, site_.min_workers, site_.max_workers);

    std::size_t serving = serving_count();
    for (; serving < target_ && now >= next_spawn_at_ && !quarantined_until_; ++serving) spawn(now);
    if (serving < target_ && !quarantined_until_) {
        // Backing off: come back when the delay ends rather than at the next tick.
        spawn_timer_.expires_at(next_spawn_at_);
        spawn_timer_.async_wait([this, alive = std::weak_ptr<void>(alive_)](boost::system::error_code ec) {
            if (!ec && !alive.expired()) reconcile(Clock::now());
        });
    }
}

std::vector<std::string> SitePool::environment(unsigned slot, bool singleton) const {
    std::map<std::string, std::string> variables;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        std::string_view text(*entry);
        const auto equals = text.find('=');
        if (equals != std::string_view::npos) variables[std::string(text.substr(0, equals))] = text.substr(equals + 1);
    }
    for (const auto& [name, value] : site_.env) variables[name] = value;
    if (singleton) {
        for (const auto& [name, value] : site_.singleton->env) variables[name] = value;
    }
    const conf::Runtime runtime = singleton ? site_.singleton->runtime : site_.runtime;
    const auto heartbeat_interval = std::clamp(site_.heartbeat_timeout / 3, std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
    variables[protocol::env_channel_fd] = std::to_string(protocol::channel_fd);
    variables[protocol::env_protocol_version] = protocol::protocol_version;
    variables[protocol::env_site] = site_.name;
    variables[protocol::env_worker_slot] = std::to_string(slot);
    variables[protocol::env_generation] = std::to_string(generation_);
    variables[protocol::env_heartbeat_interval_ms] = std::to_string(heartbeat_interval.count());
    variables[protocol::env_role] = singleton ? "singleton" : "worker";
    if (runtime == conf::Runtime::node) {
        // Node.js then opens the channel as its own IPC channel, in its JSON framing.
        variables["NODE_CHANNEL_FD"] = std::to_string(protocol::channel_fd);
        variables["NODE_CHANNEL_SERIALIZATION_MODE"] = "json";
    }
    // Only a passthrough site's workers terminate TLS, so only they learn where the keys are.
    if (site_.tls_mode == conf::TlsMode::passthrough && !site_.certificates.empty()) {
        std::string certs;
        std::string keys;
        for (const conf::Certificate& certificate : site_.certificates) {
            certs += (certs.empty() ? "" : ":") + certificate.cert;
            keys += (keys.empty() ? "" : ":") + certificate.key;
        }
        variables[protocol::env_tls_certs] = certs;
        variables[protocol::env_tls_keys] = keys;
    }

    std::vector<std::string> result;
    result.reserve(variables.size());
    for (const auto& [name, value] : variables) result.push_back(name + "=" + value);
    return result;
}

void SitePool::spawn(Clock::time_point now) {
    const unsigned slot = free_slot();
    auto worker = start_process(slot, false, now);
    if (!worker) {
        ++restarts_[restart_reason::start_failure];
        record_failure(now, 0s);
        return;
    }
    worker->set_rotate_at(rotation_time(now));
    workers_.push_back(worker);
    asio::co_spawn(strand_, read_channel(worker), asio::detached);
    asio::co_spawn(strand_, watch_exit(worker), asio::detached);
}

std::shared_ptr<Worker> SitePool::start_process(unsigned slot, bool singleton, Clock::time_point now) {
    const std::string what = singleton ? "the singleton" : "worker " + std::to_string(slot);
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        spdlog::error("site {}: cannot start {}: socketpair: {}", site_.name, what, ::strerror(errno));
        return nullptr;
    }
    FileDescriptor ours(pair[0]);
    FileDescriptor theirs(pair[1]);
    ChildProcess child;
    try {
        ProcessSpec spec;
        spec.argv = singleton ? site_.singleton->command : site_.command;
        spec.argv.front() = bundled_program(spec.argv.front());
        spec.environment = environment(slot, singleton);
        spec.cwd = site_.cwd;
        spec.channel_fd = theirs.get();
        spec.user = site_.user;
        spec.group = site_.group;
        spec.open_files = site_.limits.open_files;
        spec.address_space = site_.limits.address_space;
        child = spawn_process(spec);
    } catch (const std::exception& e) {
        spdlog::error("site {}: cannot start {}: {}", site_.name, what, e.what());
        return nullptr;
    }
    theirs.reset();

    const std::string prefix = site_.name + " " + std::to_string(child.pid);
    start_output_log(strand_.get_inner_executor(), std::move(child.stdout_pipe), prefix, false, site_log_);
    start_output_log(strand_.get_inner_executor(), std::move(child.stderr_pipe), prefix, true, site_log_);
    auto process = std::make_shared<Worker>(std::move(child), protocol::Channel(strand_, std::move(ours)), slot, generation_, now);
    if (singleton) process->mark_singleton();
    process->set_deadline(now + (singleton ? site_.singleton->start_timeout : site_.start_timeout));
    spdlog::info("{}: started (generation {})", describe(*process), generation_);
    return process;
}

void SitePool::spawn_singleton(Clock::time_point now) {
    if (singleton_ || stopping_ || !site_.singleton) return;
    singleton_ = start_process(0, true, now);
    if (!singleton_) {
        on_singleton_exit(nullptr, 0);
        return;
    }
    asio::co_spawn(strand_, read_channel(singleton_), asio::detached);
    asio::co_spawn(strand_, watch_exit(singleton_), asio::detached);
}

// The singleton is restarted with a backoff of its own, and its failures never quarantine
// the site: the workers go on serving without it.
void SitePool::on_singleton_exit(const std::shared_ptr<Worker>& singleton, int wait_status) {
    const auto now = Clock::now();
    bool failed = true;
    if (singleton) {
        failed = singleton->failed() || (singleton->state() != WorkerState::draining && singleton->state() != WorkerState::stopping);
        spdlog::log(failed ? spdlog::level::err : spdlog::level::info, "{}: {} after {} ms", describe(*singleton),
                    describe_exit(wait_status), milliseconds(now - singleton->started_at()));
        apply(*singleton, WorkerEvent::exited, now);
        bus_.forget(*singleton);
        if (singleton == singleton_) singleton_.reset();
        if (now - singleton->started_at() >= healthy_uptime) singleton_consecutive_failures_ = 0;
    }
    if (stopping_ || !site_.singleton) {
        check_stopped();
        return;
    }
    auto delay = Clock::duration::zero();
    if (failed) {
        ++singleton_failures_;
        const unsigned shift = std::min(singleton_consecutive_failures_++, 16u);
        delay = std::min<Clock::duration>(site_.singleton->restart_backoff.initial * (1u << shift), site_.singleton->restart_backoff.max);
        spdlog::warn("site {}: singleton starts again in {} ms ({} failures so far)", site_.name, milliseconds(delay), singleton_failures_);
    }
    singleton_timer_.expires_after(delay);
    singleton_timer_.async_wait([this, alive = std::weak_ptr<void>(alive_)](boost::system::error_code ec) {
        if (!ec && !alive.expired()) spawn_singleton(Clock::now());
    });
}

Clock::time_point SitePool::rotation_time(Clock::time_point started_at) {
    if (site_.max_age.count() == 0) return Clock::time_point::max();
    // Up to 10% earlier, so that workers started together do not all rotate together.
    std::uniform_real_distribution<double> share(0.9, 1.0);
    return started_at + std::chrono::duration_cast<Clock::duration>(site_.max_age * share(jitter_));
}

void SitePool::apply(Worker& worker, WorkerEvent event, Clock::time_point now) {
    const WorkerState before = worker.state();
    const WorkerTransition step = worker.apply(event);
    const bool noteworthy = step.next != before || step.action != WorkerAction::none;
    if (noteworthy && event != WorkerEvent::said_ready && event != WorkerEvent::exited) {
        const bool bad = step.failure || step.action == WorkerAction::send_sigkill;
        spdlog::log(bad ? spdlog::level::warn : spdlog::level::info, "{}: {} -> {} ({})", describe(worker), to_string(before),
                    to_string(step.next), event == WorkerEvent::retire && worker.retire_reason() ? worker.retire_reason() : to_string(event));
    }
    switch (step.action) {
        case WorkerAction::none: break;
        case WorkerAction::send_drain:
            worker.channel().send(protocol::encode_command(protocol::command::drain));
            worker.set_deadline(now + site_.drain_timeout);
            break;
        case WorkerAction::send_sigterm:
            signal_process_group(worker.process(), SIGTERM);
            worker.set_deadline(now + site_.kill_timeout);
            break;
        case WorkerAction::send_sigkill:
            signal_process_group(worker.process(), SIGKILL);
            worker.set_deadline(Clock::time_point::max());
            break;
    }
    if (step.failure) worker.note_failure();
    if (step.failure && worker.is_singleton()) return;  // counted when it exits (on_singleton_exit)
    if (step.failure) {
        ++restarts_[event == WorkerEvent::start_timed_out ? restart_reason::start_failure
                    : event == WorkerEvent::went_silent   ? restart_reason::hung
                    : event == WorkerEvent::channel_lost  ? restart_reason::channel_lost
                                                          : restart_reason::crash];
        record_failure(now, now - worker.started_at());
    }
}

void SitePool::record_failure(Clock::time_point now, Clock::duration ran_for) {
    if (ran_for >= healthy_uptime) consecutive_failures_ = 0;
    const unsigned shift = std::min(consecutive_failures_, 16u);
    const auto delay = std::min<Clock::duration>(site_.restart_backoff.initial * (1u << shift), site_.restart_backoff.max);
    ++consecutive_failures_;
    next_spawn_at_ = now + delay;

    recent_failures_.push_back(now);
    while (!recent_failures_.empty() && recent_failures_.front() <= now - site_.restart_limit.window) recent_failures_.pop_front();
    if (recent_failures_.size() > site_.restart_limit.count && !quarantined_until_) {
        quarantined_until_ = now + site_.restart_limit.cooldown;
        spdlog::error("site {}: quarantined for {} ms after {} unexpected exits within {} ms; its requests get 503 meanwhile",
                      site_.name, milliseconds(site_.restart_limit.cooldown), recent_failures_.size(),
                      milliseconds(site_.restart_limit.window));
        hand_waiting();
        return;
    }
    if (!stopping_) spdlog::info("site {}: next worker start in {} ms", site_.name, milliseconds(delay));
}

void SitePool::tick(Clock::time_point now, bool sample_memory) {
    // Over a copy: an event handled here may lead to a spawn, which adds to workers_.
    for (const auto& worker : std::vector(workers_)) check_timeouts(*worker, now, sample_memory);
    if (const auto singleton = singleton_) check_timeouts(*singleton, now, false);
    bus_.expire(now);
    run_due_tasks(now);
    expire_waiting();
    reconcile(now);
    drain_surplus_retiring(now);
}

void SitePool::check_timeouts(Worker& process, Clock::time_point now, bool sample_memory) {
    switch (process.state()) {
        case WorkerState::starting:
            if (now >= process.deadline()) apply(process, WorkerEvent::start_timed_out, now);
            break;
        case WorkerState::ready:
            if (now - process.last_heard() >= site_.heartbeat_timeout) {
                apply(process, WorkerEvent::went_silent, now);
            } else if (!process.is_singleton()) {  // a singleton is never rotated
                check_retirement(process, now, sample_memory);
            }
            break;
        case WorkerState::draining:
            if (now >= process.deadline()) {
                apply(process, WorkerEvent::drain_timed_out, now);
            } else if (now - process.last_heard() >= site_.heartbeat_timeout) {
                apply(process, WorkerEvent::went_silent, now);
            }
            break;
        case WorkerState::stopping:
            if (now >= process.deadline()) apply(process, WorkerEvent::kill_timed_out, now);
            break;
        case WorkerState::exited: break;
    }
}

BusMembers SitePool::bus_members() const {
    BusMembers members;
    if (singleton_ && singleton_->state() == WorkerState::ready) members.singleton = singleton_;
    for (const auto& worker : workers_) {
        if (worker->state() == WorkerState::ready) members.workers.push_back(worker);
        if (worker->state() == WorkerState::ready || worker->state() == WorkerState::draining) members.everyone.push_back(worker);
    }
    if (members.singleton) members.everyone.push_back(members.singleton);
    return members;
}

// Interval tasks are due every `every` from the pool's start; cron tasks at their next
// matching minute (wall-clock time, converted once to the steady clock the ticks use).
// Dev mode: a change under a watched directory rolls the workers once the changes settle;
// the roll starts the new worker before the old one drains, as a reload does.
void SitePool::watch_files() {
    watcher_.reset();
    if (site_.watch.empty()) return;
    try {
        watcher_ = std::make_unique<FileWatcher>(
            strand_, site_.watch, std::chrono::duration_cast<std::chrono::milliseconds>(site_.watch_debounce),
            [this, alive = std::weak_ptr<void>(alive_)](const std::string& changed) {
                if (alive.expired() || stopping_) return;
                spdlog::info("site {}: {} changed; rolling its workers", site_.name, changed);
                update(site_, true, restart_reason::watch);
            });
    } catch (const std::exception& e) {
        spdlog::error("site {}: cannot watch its files: {}", site_.name, e.what());
    }
}

void SitePool::schedule_tasks(Clock::time_point now) {
    task_due_.assign(site_.tasks.size(), Clock::time_point::max());
    task_wall_due_.assign(site_.tasks.size(), {});
    const auto wall_now = std::chrono::system_clock::now();
    for (std::size_t i = 0; i < site_.tasks.size(); ++i) {
        if (site_.tasks[i].cron) {
            schedule_cron(i, now, wall_now, wall_now);
        } else {
            task_due_[i] = now + site_.tasks[i].every;
        }
    }
}

// The next cron time after both now and the time just run, so that a steady clock that runs
// ahead of the wall clock (or a clock stepped back) never runs the same minute twice.
void SitePool::schedule_cron(std::size_t i, Clock::time_point now, std::chrono::system_clock::time_point wall_now,
                             std::chrono::system_clock::time_point after) {
    const auto next = site_.tasks[i].cron->next_after(std::max(wall_now, after));
    task_wall_due_[i] = next.value_or(std::chrono::system_clock::time_point::max());
    task_due_[i] = next ? now + (*next - wall_now) : Clock::time_point::max();
}

void SitePool::run_due_tasks(Clock::time_point now) {
    if (stopping_ || paused_) return;
    for (std::size_t i = 0; i < site_.tasks.size() && i < task_due_.size(); ++i) {
        if (now < task_due_[i]) continue;
        const conf::Task& task = site_.tasks[i];
        const BusMembers members = bus_members();
        std::shared_ptr<Worker> target = members.singleton;
        if (task.to == conf::Task::Target::worker && !members.workers.empty()) {
            std::uniform_int_distribution<std::size_t> pick(0, members.workers.size() - 1);
            target = members.workers[pick(jitter_)];
        } else if (task.to == conf::Task::Target::worker) {
            target = nullptr;
        }
        if (target && bus_.send_task(*target, task.name)) {
            ++tasks_run_;
            spdlog::debug("site {}: task {} sent to {}", site_.name, task.name, describe(*target));
        } else {
            ++tasks_skipped_;
            spdlog::warn("site {}: task {} skipped: no ready {} could take it", site_.name, task.name,
                         task.to == conf::Task::Target::worker ? "worker" : "singleton");
        }
        if (task.cron) {
            schedule_cron(i, now, std::chrono::system_clock::now(), task_wall_due_[i]);
        } else {
            // The next slot after now: a late tick runs a task once, never in a burst.
            do task_due_[i] += task.every;
            while (task_due_[i] <= now);
        }
    }
}

// Retiring workers normally drain one per replacement that says ready. When fewer
// replacements are coming than workers retire (max_workers lowered, idle shrink), the
// surplus drains now — as long as some other worker is ready to take the traffic.
void SitePool::drain_surplus_retiring(Clock::time_point now) {
    std::size_t replacements_coming = serving_count() < target_ ? target_ - serving_count() : 0;
    std::size_t ready_replacements = 0;
    std::vector<Worker*> retiring_ready;
    for (const auto& worker : workers_) {
        if (worker->state() == WorkerState::starting && !worker->retiring()) {
            ++replacements_coming;
        } else if (worker->state() == WorkerState::ready && worker->retiring()) {
            retiring_ready.push_back(worker.get());
        } else if (worker->state() == WorkerState::ready) {
            ++ready_replacements;
        }
    }
    for (std::size_t i = 0; ready_replacements > 0 && retiring_ready.size() - i > replacements_coming; ++i) {
        apply(*retiring_ready[i], WorkerEvent::retire, now);
    }
}

void SitePool::check_retirement(Worker& worker, Clock::time_point now, bool sample_memory) {
    if (sample_memory) worker.set_rss_bytes(read_rss_bytes(worker.pid()));
    if (worker.retiring() || stopping_) return;
    const char* reason = nullptr;
    const char* counted_as = nullptr;
    if (now >= worker.rotate_at()) {
        reason = "max_age reached";
        counted_as = restart_reason::age;
    } else if (site_.max_memory > 0 && worker.rss_bytes() > site_.max_memory) {
        reason = "max_memory exceeded";
        counted_as = restart_reason::memory;
    } else if (site_.max_requests > 0 && worker.last_heartbeat().requests >= site_.max_requests) {
        reason = "max_requests reached";
        counted_as = restart_reason::requests;
    } else if (ready_serving_count() > site_.min_workers && worker.load() == 0 && now - worker.last_busy() >= site_.idle_timeout) {
        // Idle above the minimum: shrink instead of replacing.
        --target_;
        worker.mark_retiring("idle_timeout");
        ++restarts_[restart_reason::idle];
        apply(worker, WorkerEvent::retire, now);
        return;
    }
    if (reason == nullptr) return;
    spdlog::info("{}: {}; starting its replacement", describe(worker), reason);
    worker.mark_retiring(reason);  // the replacement comes from reconcile(); it drains when that one is ready
    ++restarts_[counted_as];
}

// A new worker is ready: the oldest worker waiting for its replacement can go.
void SitePool::drain_one_retiring(Clock::time_point now) {
    for (const auto& worker : workers_) {
        if (worker->retiring() && worker->state() == WorkerState::ready) {
            apply(*worker, WorkerEvent::retire, now);
            return;
        }
    }
}

asio::awaitable<void> SitePool::read_channel(std::shared_ptr<Worker> worker) {
    for (;;) {
        protocol::IncomingMessage incoming;
        const boost::system::error_code ec = co_await worker->channel().receive(incoming);
        const auto now = Clock::now();
        if (ec) {
            if (worker->state() == WorkerState::exited) co_return;
            worker->on_channel_lost();
            // A worker that exits closes its channel a moment before its pidfd says so; give
            // the exit that moment to tell the story, so that a crash reads as a crash.
            if (ec == asio::error::eof) {
                asio::steady_timer grace(strand_, exit_grace);
                co_await grace.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            if (worker->state() != WorkerState::draining && worker->state() != WorkerState::stopping &&
                worker->state() != WorkerState::exited) {
                const std::string why = ec == boost::system::errc::protocol_error ? worker->channel().protocol_error()
                                        : ec == asio::error::eof                  ? "closed by the worker"
                                                                                  : ec.message();
                spdlog::warn("{}: channel lost ({})", describe(*worker), why);
                // Without its channel it can never get another connection: replace it.
                apply(*worker, WorkerEvent::channel_lost, Clock::now());
                reconcile(Clock::now());
            }
            co_return;
        }
        worker->heard_from(now);
        const std::string_view command = protocol::command_of(incoming.message);
        if (command == protocol::command::handle_ack) {
            if (!worker->on_acknowledged()) spdlog::warn("{}: acknowledged a connection it was not sent", describe(*worker));
            if (!waiting_.empty()) hand_waiting();
        } else if (command == protocol::command::handle_nack) {
            if (auto refused = worker->on_refused()) {
                on_refused(*worker, std::move(*refused), now);
            } else {
                spdlog::warn("{}: refused a connection it was not sent", describe(*worker));
            }
        } else if (command == protocol::command::ready) {
            if (worker->state() != WorkerState::starting) continue;
            apply(*worker, WorkerEvent::said_ready, now);
            spdlog::info("{}: ready after {} ms", describe(*worker), milliseconds(now - worker->started_at()));
            if (worker->is_singleton()) {
                // The backoff resets only after a healthy run (on_singleton_exit), not on ready:
                // one that crashes right after saying ready must still back off.
                singleton_was_ready_ = true;
                reconcile(now);
                continue;
            }
            hand_waiting();
            drain_one_retiring(now);
        } else if (command == protocol::command::heartbeat) {
            worker->on_heartbeat(protocol::heartbeat_of(incoming.message), now);
        } else if (bus_.handle(worker, command, incoming.message, bus_members(), now)) {
            // routed among the site's processes
        } else {
            spdlog::debug("{}: ignoring message '{}'", describe(*worker), command);
        }
    }
}

asio::awaitable<void> SitePool::watch_exit(std::shared_ptr<Worker> worker) {
    asio::posix::stream_descriptor pidfd(strand_, ::dup(worker->process().pidfd.get()));
    // A pidfd becomes readable when the process exits.
    co_await pidfd.async_wait(asio::posix::stream_descriptor::wait_read, asio::as_tuple(asio::use_awaitable));
    // Whatever the worker left in its group goes with it, before the reap frees its pid.
    signal_process_group(worker->process(), SIGKILL);
    int status = 0;
    while (::waitpid(worker->pid(), &status, 0) < 0 && errno == EINTR) {}
    on_exit(worker, status);
}

void SitePool::on_exit(const std::shared_ptr<Worker>& worker, int wait_status) {
    if (worker->is_singleton()) {
        on_singleton_exit(worker, wait_status);
        return;
    }
    bus_.forget(*worker);
    const auto now = Clock::now();
    const bool expected = worker->state() == WorkerState::draining || worker->state() == WorkerState::stopping;
    spdlog::log(expected ? spdlog::level::info : spdlog::level::warn, "{}: {} after {} ms", describe(*worker),
                describe_exit(wait_status), milliseconds(now - worker->started_at()));
    apply(*worker, WorkerEvent::exited, now);
    requests_of_exited_ += worker->last_heartbeat().requests;
    std::deque<PendingConnection> unacknowledged = worker->on_exited();
    std::erase(workers_, worker);

    // Hand again, oldest first, what the dead worker never read.
    for (auto it = unacknowledged.rbegin(); it != unacknowledged.rend(); ++it) {
        if (head_still_unread(*it)) {
            spdlog::info("site {}: connection {} goes to another worker", site_.name, it->info.id);
            it->handed_before = true;
            waiting_.push_front({std::move(*it), now + site_.queue_timeout, now});
        } else {
            spdlog::warn("site {}: connection {} lost with the worker that had started reading it", site_.name, it->info.id);
        }
    }
    reconcile(now);
    hand_waiting();
    check_stopped();
}

// The fd never reached the worker, so nothing read it: vhostd's copy can go to a worker
// again, a few times, before the client gets a 503 rather than a loop.
void SitePool::on_refused(const Worker& worker, PendingConnection connection, Clock::time_point now) {
    constexpr unsigned max_refusals = 3;
    spdlog::warn("{}: did not receive connection {} (NODE_HANDLE_NACK; out of file descriptors?)", describe(worker),
                 connection.info.id);
    connection.handed_before = true;
    connection.refused_by = worker.pid();
    if (++connection.refusals >= max_refusals) {
        reject(std::move(connection), 1, "workers did not receive its descriptor");
        return;
    }
    // First in line, and due no later than the one it goes before: the queue timer watches
    // only the front.
    auto deadline = now + site_.queue_timeout;
    if (!waiting_.empty()) deadline = std::min(deadline, waiting_.front().deadline);
    waiting_.push_front({std::move(connection), deadline, now});
    if (waiting_.size() == 1) arm_queue_timer();
    hand_waiting();
}

bool SitePool::try_hand(PendingConnection& connection) {
    const auto now = Clock::now();
    std::vector<bool> failed;  // allocated only when a send fails
    for (std::size_t attempt = 0; attempt < workers_.size(); ++attempt) {
        std::size_t best = workers_.size();
        std::size_t refuser = workers_.size();
        for (std::size_t k = 0; k < workers_.size(); ++k) {
            const std::size_t i = (round_robin_ + k) % workers_.size();
            const Worker& candidate = *workers_[i];
            if (!candidate.available(site_.max_in_flight) || (!failed.empty() && failed[i])) continue;
            // A worker that just refused it (out of descriptors, say) is the last choice.
            if (candidate.pid() == connection.refused_by) {
                refuser = i;
                continue;
            }
            if (best == workers_.size() || candidate.load() < workers_[best]->load()) best = i;
        }
        if (best == workers_.size()) best = refuser;
        if (best == workers_.size()) return false;
        Worker& worker = *workers_[best];
        const auto accepted_at = connection.accepted_at;
        // The connection moves into the worker's in-flight list: keep what the log needs.
        const bool first_time = !connection.handed_before;
        const std::optional<protocol::ConnectionInfo> logged =
            first_time && accesslog::enabled() ? std::optional(connection.info) : std::nullopt;
        const boost::system::error_code ec = worker.hand(connection, now);
        if (!ec) {
            const auto latency = Clock::now() - accepted_at;
            if (first_time) {
                handoff_latency_.record(latency);
                ++handed_off_;
            }
            if (logged) {
                accesslog::write({logged->remote_address, logged->remote_port, logged->host, site_.name, worker.pid(), "handed",
                                  std::chrono::duration<double, std::micro>(latency).count()});
            }
            round_robin_ = best + 1;
            return true;
        }
        spdlog::warn("{}: could not hand connection {}: {}", describe(worker), connection.info.id, ec.message());
        if (failed.empty()) failed.resize(workers_.size());
        failed[best] = true;
    }
    return false;
}

int SitePool::retry_after_seconds() const {
    if (!quarantined_until_) return 1;
    const auto left = std::chrono::ceil<std::chrono::seconds>(*quarantined_until_ - Clock::now()).count();
    return static_cast<int>(std::max<long long>(left, 1));
}

void SitePool::dispatch(PendingConnection connection) {
    if (stopping_ || paused_) {
        reject(std::move(connection), 1, stopping_ ? "site is stopping" : "site stopped by the admin endpoint");
        return;
    }
    if (waiting_.empty() && try_hand(connection)) return;
    if (quarantined_until_ && !has_live_worker()) {
        reject(std::move(connection), retry_after_seconds(), "site quarantined after repeated crashes");
        return;
    }
    if (waiting_.size() >= site_.queue_size) {
        reject(std::move(connection), 1, "queue full");
        return;
    }
    waiting_.push_back({std::move(connection), Clock::now() + site_.queue_timeout, Clock::now()});
    if (waiting_.size() == 1) arm_queue_timer();
    reconcile(Clock::now());  // an on-demand site may start a worker for it
}

void SitePool::hand_waiting() {
    while (!waiting_.empty() && try_hand(waiting_.front().connection)) {
        queue_wait_.record(Clock::now() - waiting_.front().since);
        waiting_.pop_front();
    }
    if (stopping_ || paused_ || (quarantined_until_ && !has_live_worker())) {
        const char* why = stopping_ ? "site is stopping" : paused_ ? "site stopped by the admin endpoint" : "site quarantined after repeated crashes";
        while (!waiting_.empty()) {
            reject(std::move(waiting_.front().connection), retry_after_seconds(), why);
            waiting_.pop_front();
        }
    }
    arm_queue_timer();
}

void SitePool::arm_queue_timer() {
    if (waiting_.empty()) {
        queue_timer_.cancel();
        return;
    }
    queue_timer_.expires_at(waiting_.front().deadline);
    queue_timer_.async_wait([this, alive = std::weak_ptr<void>(alive_)](boost::system::error_code ec) {
        if (!ec && !alive.expired()) expire_waiting();
    });
}

void SitePool::expire_waiting() {
    const auto now = Clock::now();
    bool expired = false;
    while (!waiting_.empty() && waiting_.front().deadline <= now) {
        reject(std::move(waiting_.front().connection), 1, "no worker ready within queue_timeout");
        waiting_.pop_front();
        expired = true;
    }
    if (expired) arm_queue_timer();
}

void SitePool::reject(PendingConnection connection, int retry_after, const char* why) {
    if (stopping_ && successor_ && successor_(connection)) {
        spdlog::debug("site {}: connection {} went to the new vhostd", site_.name, connection.info.id);
        return;
    }
    ++answered_503_;
    accesslog::write({connection.info.remote_address, connection.info.remote_port, connection.info.host, site_.name, 0, "503", 0});
    spdlog::warn("site {}: 503 to {}:{} (connection {}): {}", site_.name, connection.info.remote_address,
                 connection.info.remote_port, connection.info.id, why);
    connection.reject(std::move(connection.socket), retry_after, why);
}

void SitePool::update(conf::Site site, bool replace_workers, const char* counted_as) {
    const auto now = Clock::now();
    const bool new_max_age = site.max_age != site_.max_age;
    // Whatever rolls the workers rolls the singleton too (it shares their env, cwd, user and
    // limits), and so does a change of its own settings.
    const bool new_singleton = site.singleton != site_.singleton || replace_workers;
    const bool new_tasks = site.tasks != site_.tasks;
    const bool new_watch = site.watch != site_.watch || site.watch_debounce != site_.watch_debounce;
    site_ = std::move(site);
    if (new_tasks) schedule_tasks(now);
    if (new_watch) watch_files();
    if (new_singleton) {
        // The running one drains; its exit starts the new one (or none, if it was removed).
        if (singleton_ && (singleton_->state() == WorkerState::starting || singleton_->state() == WorkerState::ready)) {
            apply(*singleton_, WorkerEvent::retire, now);
        } else if (!singleton_ && site_.singleton) {
            spawn_singleton(now);
        }
        // New workers wait for the new singleton; the running ones serve meanwhile.
        singleton_was_ready_ = false;
    }
    target_ = std::clamp(target_, site_.min_workers, site_.max_workers);
    if (new_max_age) {
        for (const auto& worker : workers_) worker->set_rotate_at(rotation_time(worker->started_at()));
    }
    if (replace_workers) {
        ++generation_;
        for (const auto& worker : workers_) {
            if (!worker->serving()) continue;
            worker->mark_retiring(counted_as == restart_reason::admin   ? "restarted by the admin endpoint"
                                  : counted_as == restart_reason::watch ? "watched files changed"
                                                                        : "configuration changed");
            ++restarts_[counted_as];
        }
        spdlog::info("site {}: rolling its workers to generation {}", site_.name, generation_);
    }
    // Fewer workers allowed than run: the newest go first.
    for (auto it = workers_.rbegin(); it != workers_.rend() && serving_count() > site_.max_workers; ++it) {
        if (!(*it)->serving()) continue;
        (*it)->mark_retiring("max_workers lowered");
        apply(**it, WorkerEvent::retire, now);
    }
    reconcile(now);
}

SiteSnapshot SitePool::snapshot() const {
    const auto now = Clock::now();
    SiteSnapshot site;
    site.name = site_.name;
    site.hosts = site_.hosts;
    site.is_default = site_.is_default;
    site.min_workers = site_.min_workers;
    site.max_workers = site_.max_workers;
    site.stopped = paused_;
    site.quarantined = quarantined_until_.has_value();
    if (quarantined_until_) site.quarantine_seconds_left = std::chrono::duration<double>(*quarantined_until_ - now).count();
    site.handed_off = handed_off_;
    site.answered_503 = answered_503_;
    site.queue_length = waiting_.size();
    site.handoff_latency = handoff_latency_;
    site.queue_wait = queue_wait_;
    site.requests = requests_of_exited_;
    for (const char* reason : restart_reason::all) site.restarts[reason] = 0;
    for (const auto& [reason, count] : restarts_) site.restarts[reason] = count;
    for (const char* state : {"starting", "ready", "draining", "stopping"}) site.workers_by_state[state] = 0;
    auto describe_process = [&](const Worker& process) {
        const protocol::Heartbeat& heartbeat = process.last_heartbeat();
        return WorkerSnapshot{
            .pid = process.pid(),
            .slot = process.slot(),
            .generation = process.generation(),
            .state = to_string(process.state()),
            .retiring = process.retiring() ? process.retire_reason() : "",
            .uptime_seconds = std::chrono::duration<double>(now - process.started_at()).count(),
            .rss_bytes = read_rss_bytes(process.pid()),
            .cpu_seconds = read_cpu_seconds(process.pid()),
            .active_connections = heartbeat.active_connections,
            .requests = heartbeat.requests,
            .websockets = heartbeat.websockets,
        };
    };
    site.has_singleton = site_.singleton.has_value();
    if (singleton_) site.singleton = describe_process(*singleton_);
    site.singleton_failures = singleton_failures_;
    site.messages_delivered = bus_.delivered();
    site.messages_undeliverable = bus_.undeliverable();
    site.tasks_run = tasks_run_;
    site.tasks_skipped = tasks_skipped_;
    for (const auto& worker : workers_) {
        const protocol::Heartbeat& heartbeat = worker->last_heartbeat();
        site.requests += heartbeat.requests;
        site.active_connections += heartbeat.active_connections;
        site.websockets += heartbeat.websockets;
        ++site.workers_by_state[to_string(worker->state())];
        site.workers.push_back(describe_process(*worker));
    }
    return site;
}

void SitePool::pause() {
    if (paused_ || stopping_) return;
    paused_ = true;
    const auto now = Clock::now();
    target_ = 0;
    spdlog::info("site {}: stopped by the admin endpoint; its requests get 503", site_.name);
    for (const auto& worker : std::vector(workers_)) {
        if (worker->state() != WorkerState::starting && worker->state() != WorkerState::ready) continue;
        if (!worker->retiring()) worker->mark_retiring("stopped by the admin endpoint");
        apply(*worker, WorkerEvent::retire, now);
    }
    hand_waiting();
}

void SitePool::resume() {
    if (!paused_) return;
    paused_ = false;
    target_ = site_.min_workers;
    spdlog::info("site {}: started by the admin endpoint", site_.name);
    reconcile(Clock::now());
}

void SitePool::restart() { update(site_, true, restart_reason::admin); }

void SitePool::stop(std::function<void()> done) {
    hand_waiting();  // last chance for connections already waiting, before workers stop taking them
    stopping_ = true;
    on_stopped_ = std::move(done);
    const auto now = Clock::now();
    for (const auto& worker : std::vector(workers_)) {
        if (!worker->retiring()) worker->mark_retiring("vhostd is stopping");
        apply(*worker, WorkerEvent::retire, now);
    }
    hand_waiting();
    check_stopped();
}

void SitePool::check_stopped() {
    if (!stopping_ || !on_stopped_ || !workers_.empty()) return;
    // The singleton goes last: workers may call it while they drain.
    singleton_timer_.cancel();
    if (singleton_) {
        if (singleton_->state() == WorkerState::starting || singleton_->state() == WorkerState::ready) {
            apply(*singleton_, WorkerEvent::retire, Clock::now());
        }
        return;
    }
    queue_timer_.cancel();
    spawn_timer_.cancel();
    std::exchange(on_stopped_, nullptr)();
}

}  // namespace vhostd::supervisor
