// The pool's processes: starting one on a new channel, reading what it says, and its exit
// (reaped through its pidfd), after which what it never read goes to another worker.
#include "protocol/message.hpp"
#include "supervisor/bundled_program.hpp"
#include "supervisor/output_log.hpp"
#include "supervisor/pool_log.hpp"
#include "supervisor/site_pool.hpp"
#include "supervisor/worker_environment.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

namespace vhostd::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using protocol::FileDescriptor;
using protocol::PendingConnection;

namespace {

constexpr auto exit_grace = 50ms;  // between a worker's channel closing and its exit showing

// A connection can go to another worker only if the dead one never read from it.
bool head_still_unread(const PendingConnection& connection) {
    if (connection.head.empty()) return false;
    std::string peeked(connection.head.size(), '\0');
    const ssize_t got = ::recv(connection.socket.get(), peeked.data(), peeked.size(), MSG_PEEK | MSG_DONTWAIT);
    return got == static_cast<ssize_t>(peeked.size()) && peeked == connection.head;
}

}  // namespace

void SitePool::spawn(Clock::time_point now, unsigned slot, pid_t replaces) {
    auto worker = start_process(slot, false, now);
    if (!worker) {
        ++restarts_[RestartReason::start_failure];
        record_failure(now, 0s);
        return;
    }
    worker->set_rotate_at(rotation_time(now));
    worker->replaces_pid() = replaces;
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
        spec.environment = worker_environment(site_, {.slot = slot, .generation = generation_, .singleton = singleton},
                                              inherited_environment(), head_limits_, tls_ticket_key_);
        spec.cwd = site_.cwd;
        spec.channel_fd = theirs.get();
        spec.user = site_.user;
        spec.group = site_.group;
        spec.open_files = site_.limits.open_files;
        spec.address_space = site_.limits.address_space;
        child = host_.start(spec);
    } catch (const std::exception& e) {
        spdlog::error("site {}: cannot start {}: {}", site_.name, what, e.what());
        return nullptr;
    }
    theirs.reset();

    const std::string prefix = site_.name + " " + std::to_string(child.pid);
    start_output_log(strand_.get_inner_executor(), std::move(child.stdout_pipe), prefix, false, site_log_);
    start_output_log(strand_.get_inner_executor(), std::move(child.stderr_pipe), prefix, true, site_log_);
    auto process = std::make_shared<Worker>(std::move(child), protocol::Channel(strand_, std::move(ours)), slot, generation_, now);
    process->channel().serve_vhostd_end();
    if (singleton) process->mark_singleton();
    process->set_deadline(now + (singleton ? site_.singleton->start_timeout : site_.start_timeout));
    spdlog::info("{}: started (generation {})", describe(*process), generation_);
    return process;
}

asio::awaitable<void> SitePool::read_channel(std::shared_ptr<Worker> worker) {
    for (;;) {
        protocol::IncomingMessage incoming;
        const boost::system::error_code ec = co_await worker->channel().receive(incoming);
        const auto now = host_.now();
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
                apply(*worker, WorkerEvent::channel_lost, host_.now());
                reconcile(host_.now());
            }
            co_return;
        }
        worker->heard_from(now);
        if (incoming.app || incoming.unreadable_app) {
            bus_.pass_app_message(worker, std::move(incoming.app), bus_members());
            continue;
        }
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
                bus_.singleton_ready(bus_members(), now);
                reconcile(now);
                continue;
            }
            hand_waiting();
            retire_the_replaced(*worker, now);
        } else if (command == protocol::command::heartbeat) {
            worker->on_heartbeat(protocol::heartbeat_of(incoming.message), now);
        } else if (bus_.handle(worker, command, incoming.message, bus_members(), now)) {
            // routed among the site's processes
        } else if (command == protocol::command::handle) {
            // The app's process.send(message, handle): Node sends nothing more until it is
            // acknowledged. vhostd has nowhere to pass a handle; its fd closes here.
            worker->channel().send(protocol::encode_command(protocol::command::handle_ack));
            spdlog::debug("{}: dropped a handle the app sent", describe(*worker));
        } else if (command.starts_with("vhostd:") || command.starts_with("NODE_")) {
            spdlog::debug("{}: ignoring message '{}'", describe(*worker), command);  // a later version's, or Node's
        } else {
            // {"cmd":"notifyRequest"}: the app's own, as in Node's cluster examples.
            bus_.pass_app_message(worker, boost::json::value(std::move(incoming.message)), bus_members());
        }
    }
}

asio::awaitable<void> SitePool::watch_exit(std::shared_ptr<Worker> worker) {
    asio::posix::stream_descriptor pidfd(strand_, ::dup(worker->process().pidfd.get()));
    // A pidfd becomes readable when the process exits.
    co_await pidfd.async_wait(asio::posix::stream_descriptor::wait_read, asio::as_tuple(asio::use_awaitable));
    // Whatever the worker left in its group goes with it, before the reap frees its pid.
    host_.signal(worker->process(), SIGKILL);
    on_exit(worker, host_.reap(worker->process()));
}

void SitePool::on_exit(const std::shared_ptr<Worker>& worker, int wait_status) {
    if (worker->is_singleton()) {
        on_singleton_exit(worker, wait_status);
        return;
    }
    bus_.forget(*worker);
    const auto now = host_.now();
    const bool expected = worker->state() == WorkerState::draining || worker->state() == WorkerState::stopping;
    spdlog::log(expected ? spdlog::level::info : spdlog::level::warn, "{}: {} after {} ms", describe(*worker),
                describe_exit(wait_status), milliseconds(now - worker->started_at()));
    apply(*worker, WorkerEvent::exited, now);
    unpair(*worker, !expected || worker->failed(), wait_status);
    requests_of_exited_ += worker->last_heartbeat().requests;
    std::deque<PendingConnection> unacknowledged = worker->on_exited();
    std::erase(workers_, worker);

    // Hand again, oldest first, what the dead worker never read.
    for (auto it = unacknowledged.rbegin(); it != unacknowledged.rend(); ++it) {
        if (head_still_unread(*it)) {
            spdlog::info("site {}: connection {} goes to another worker", site_.name, it->info.id);
            it->handed_before = true;
            waiting_.push_front(std::move(*it), now, site_.queue_timeout);
        } else {
            spdlog::warn("site {}: connection {} lost with the worker that had started reading it", site_.name, it->info.id);
        }
    }
    reconcile(now);
    hand_waiting();
    check_stopped();
}

}  // namespace vhostd::supervisor
