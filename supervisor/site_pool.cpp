#include "supervisor/site_pool.hpp"

#include "protocol/environment.hpp"
#include "protocol/message.hpp"
#include "supervisor/output_log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>

extern char** environ;

namespace vhostd::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using protocol::FileDescriptor;
using protocol::PendingConnection;

namespace {

constexpr auto first_restart_delay = 100ms;
constexpr auto max_restart_delay = 10s;
constexpr auto healthy_uptime = 10s;  // a worker that ran this long resets the restart delay

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
    return "ended with status " + std::to_string(status);
}

// A connection can go to another worker only if the dead one never read from it.
bool head_still_unread(const PendingConnection& connection) {
    if (connection.head.empty()) return false;
    std::string peeked(connection.head.size(), '\0');
    const ssize_t got = ::recv(connection.socket.get(), peeked.data(), peeked.size(), MSG_PEEK | MSG_DONTWAIT);
    return got == static_cast<ssize_t>(peeked.size()) && peeked == connection.head;
}

}  // namespace

SitePool::SitePool(Strand strand, conf::Site site)
    : strand_(strand), site_(std::move(site)), slots_(site_.workers), queue_timer_(strand), drain_timer_(strand) {}

std::string SitePool::describe(const Worker& worker) const {
    return "site " + site_.name + " worker " + std::to_string(worker.slot()) + " (pid " + std::to_string(worker.pid()) + ")";
}

std::size_t SitePool::running_workers() const {
    const auto in_slots = std::count_if(slots_.begin(), slots_.end(), [](const Slot& slot) { return slot.worker != nullptr; });
    return static_cast<std::size_t>(in_slots) + draining_.size();
}

void SitePool::start() {
    for (unsigned slot = 0; slot < slots_.size(); ++slot) spawn(slot);
}

std::vector<std::string> SitePool::environment(unsigned slot) const {
    std::map<std::string, std::string> variables;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        std::string_view text(*entry);
        const auto equals = text.find('=');
        if (equals != std::string_view::npos) variables[std::string(text.substr(0, equals))] = text.substr(equals + 1);
    }
    for (const auto& [name, value] : site_.env) variables[name] = value;
    const auto heartbeat_interval = std::clamp(site_.heartbeat_timeout / 3, std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
    variables[protocol::env_channel_fd] = std::to_string(protocol::channel_fd);
    variables[protocol::env_protocol_version] = protocol::protocol_version;
    variables[protocol::env_site] = site_.name;
    variables[protocol::env_worker_slot] = std::to_string(slot);
    variables[protocol::env_generation] = std::to_string(generation_);
    variables[protocol::env_heartbeat_interval_ms] = std::to_string(heartbeat_interval.count());

    std::vector<std::string> result;
    result.reserve(variables.size());
    for (const auto& [name, value] : variables) result.push_back(name + "=" + value);
    return result;
}

void SitePool::spawn(unsigned slot) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        spdlog::error("site {}: cannot start worker {}: socketpair: {}", site_.name, slot, ::strerror(errno));
        schedule_restart(slot, 0s);
        return;
    }
    FileDescriptor ours(pair[0]);
    FileDescriptor theirs(pair[1]);
    ChildProcess child;
    try {
        child = spawn_process({site_.command, environment(slot), site_.cwd, theirs.get()});
    } catch (const std::exception& e) {
        spdlog::error("site {}: cannot start worker {}: {}", site_.name, slot, e.what());
        schedule_restart(slot, 0s);
        return;
    }
    theirs.reset();

    const std::string prefix = site_.name + " " + std::to_string(child.pid);
    start_output_log(strand_.get_inner_executor(), std::move(child.stdout_pipe), prefix, false);
    start_output_log(strand_.get_inner_executor(), std::move(child.stderr_pipe), prefix, true);
    auto worker = std::make_shared<Worker>(std::move(child), protocol::Channel(strand_, std::move(ours)), slot, generation_);
    slots_[slot].worker = worker;
    spdlog::info("{}: started", describe(*worker));
    asio::co_spawn(strand_, read_channel(worker), asio::detached);
    asio::co_spawn(strand_, watch_exit(worker), asio::detached);
}

void SitePool::schedule_restart(unsigned slot, std::chrono::steady_clock::duration ran_for) {
    Slot& state = slots_[slot];
    if (ran_for >= healthy_uptime) state.quick_failures = 0;
    const auto delay = std::min<std::chrono::milliseconds>(first_restart_delay * (1u << std::min(state.quick_failures, 16u)), max_restart_delay);
    ++state.quick_failures;
    spdlog::info("site {}: restarting worker {} in {} ms", site_.name, slot, delay.count());
    state.restart_timer = std::make_unique<asio::steady_timer>(strand_, delay);
    state.restart_timer->async_wait([this, slot](boost::system::error_code ec) {
        if (!ec && !stopping_ && slots_[slot].worker == nullptr) spawn(slot);
    });
}

asio::awaitable<void> SitePool::read_channel(std::shared_ptr<Worker> worker) {
    for (;;) {
        protocol::IncomingMessage incoming;
        const boost::system::error_code ec = co_await worker->channel().receive(incoming);
        if (ec) {
            if (worker->state() == WorkerState::exited) co_return;
            worker->on_channel_lost();
            // Without its channel a worker can never get another connection: replace it.
            const std::string why = ec == boost::system::errc::protocol_error ? worker->channel().protocol_error()
                                    : ec == asio::error::eof                  ? "closed by the worker"
                                                                              : ec.message();
            if (worker->state() != WorkerState::draining) {
                spdlog::error("{}: channel lost ({}); killing it", describe(*worker), why);
                signal_process(worker->process(), SIGKILL);
            }
            co_return;
        }
        const std::string_view command = protocol::command_of(incoming.message);
        if (command == protocol::command::handle_ack) {
            if (!worker->on_acknowledged()) spdlog::warn("{}: acknowledged a connection it was not sent", describe(*worker));
            hand_waiting();
        } else if (command == protocol::command::ready) {
            if (worker->state() == WorkerState::starting) spdlog::info("{}: ready", describe(*worker));
            worker->on_ready();
            hand_waiting();
        } else if (command == protocol::command::heartbeat) {
            worker->on_heartbeat(protocol::heartbeat_of(incoming.message));
        } else {
            spdlog::debug("{}: ignoring message '{}'", describe(*worker), command);
        }
    }
}

asio::awaitable<void> SitePool::watch_exit(std::shared_ptr<Worker> worker) {
    asio::posix::stream_descriptor pidfd(strand_, ::dup(worker->process().pidfd.get()));
    // A pidfd becomes readable when the process exits.
    co_await pidfd.async_wait(asio::posix::stream_descriptor::wait_read, asio::as_tuple(asio::use_awaitable));
    // Until it is reaped the pid cannot be reused, so its process group is still its own:
    // whatever the worker left behind in it goes with it.
    kill_process_group(worker->pid());
    int status = 0;
    while (::waitpid(worker->pid(), &status, 0) < 0 && errno == EINTR) {}
    on_worker_exit(worker, status);
}

void SitePool::on_worker_exit(const std::shared_ptr<Worker>& worker, int wait_status) {
    const WorkerState was = worker->state();
    const auto ran_for = std::chrono::steady_clock::now() - worker->started_at();
    std::deque<PendingConnection> unacknowledged = worker->on_exited();
    const bool expected = was == WorkerState::draining;
    spdlog::log(expected ? spdlog::level::info : spdlog::level::warn, "{}: {} after {} ms", describe(*worker),
                describe_exit(wait_status), std::chrono::duration_cast<std::chrono::milliseconds>(ran_for).count());

    // Hand again, oldest first, what the dead worker never read.
    for (auto it = unacknowledged.rbegin(); it != unacknowledged.rend(); ++it) {
        if (head_still_unread(*it)) {
            spdlog::info("site {}: connection {} goes to another worker", site_.name, it->info.id);
            waiting_.push_front({std::move(*it), std::chrono::steady_clock::now() + site_.queue_timeout});
        } else {
            spdlog::warn("site {}: connection {} lost with the worker that had started reading it", site_.name, it->info.id);
        }
    }

    Slot& slot = slots_[worker->slot()];
    if (slot.worker == worker) {
        slot.worker = nullptr;
        if (!stopping_) schedule_restart(worker->slot(), ran_for);
    } else {
        std::erase(draining_, worker);
    }
    hand_waiting();
    check_stopped();
}

bool SitePool::try_hand(PendingConnection& connection) {
    std::vector<bool> failed;  // allocated only when a send fails
    for (std::size_t attempt = 0; attempt < slots_.size(); ++attempt) {
        std::size_t best = slots_.size();
        for (std::size_t k = 0; k < slots_.size(); ++k) {
            const std::size_t i = (round_robin_ + k) % slots_.size();
            const Worker* candidate = slots_[i].worker.get();
            if (candidate == nullptr || !candidate->available(site_.max_in_flight) || (!failed.empty() && failed[i])) continue;
            if (best == slots_.size() || candidate->load() < slots_[best].worker->load()) best = i;
        }
        if (best == slots_.size()) return false;
        Worker& worker = *slots_[best].worker;
        const boost::system::error_code ec = worker.hand(connection);
        if (!ec) {
            round_robin_ = best + 1;
            return true;
        }
        spdlog::warn("{}: could not hand connection {}: {}", describe(worker), connection.info.id, ec.message());
        if (failed.empty()) failed.resize(slots_.size());
        failed[best] = true;
    }
    return false;
}

void SitePool::dispatch(PendingConnection connection) {
    if (stopping_) {
        reject(std::move(connection), 1, "vhostd is stopping");
        return;
    }
    if (waiting_.empty() && try_hand(connection)) return;
    if (waiting_.size() >= site_.queue_size) {
        reject(std::move(connection), 1, "queue full");
        return;
    }
    waiting_.push_back({std::move(connection), std::chrono::steady_clock::now() + site_.queue_timeout});
    if (waiting_.size() == 1) arm_queue_timer();
}

void SitePool::hand_waiting() {
    while (!waiting_.empty() && try_hand(waiting_.front().connection)) waiting_.pop_front();
    if (stopping_) {
        while (!waiting_.empty()) {
            reject(std::move(waiting_.front().connection), 1, "vhostd is stopping");
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
    queue_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) expire_waiting();
    });
}

void SitePool::expire_waiting() {
    const auto now = std::chrono::steady_clock::now();
    while (!waiting_.empty() && waiting_.front().deadline <= now) {
        reject(std::move(waiting_.front().connection), 1, "no worker ready within queue_timeout");
        waiting_.pop_front();
    }
    arm_queue_timer();
}

void SitePool::reject(PendingConnection connection, int retry_after, const char* why) {
    spdlog::warn("site {}: 503 to {}:{} (connection {}): {}", site_.name, connection.info.remote_address,
                 connection.info.remote_port, connection.info.id, why);
    connection.reject(std::move(connection.socket), retry_after, why);
}

void SitePool::stop(std::function<void()> done) {
    hand_waiting();  // last chance for connections already waiting, before workers stop taking them
    stopping_ = true;
    on_stopped_ = std::move(done);
    for (Slot& slot : slots_) {
        if (slot.restart_timer) slot.restart_timer->cancel();
        if (slot.worker) slot.worker->start_draining();
    }
    hand_waiting();
    drain_timer_.expires_after(site_.drain_timeout);
    drain_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        for (Slot& slot : slots_) {
            if (!slot.worker) continue;
            spdlog::warn("{}: still running after drain_timeout; killing it", describe(*slot.worker));
            signal_process(slot.worker->process(), SIGKILL);
        }
        for (auto& worker : draining_) signal_process(worker->process(), SIGKILL);
    });
    check_stopped();
}

void SitePool::check_stopped() {
    if (!stopping_ || !on_stopped_ || running_workers() != 0) return;
    drain_timer_.cancel();
    std::exchange(on_stopped_, nullptr)();
}

}  // namespace vhostd::supervisor
