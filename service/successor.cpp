#include "service/successor.hpp"

#include "protocol/channel.hpp"
#include "protocol/message.hpp"
#include "server/inherited_sockets.hpp"
#include "service/upgrade_message.hpp"
#include "supervisor/privileges.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace vhostd::service {

namespace asio = boost::asio;

namespace {

constexpr auto send_timeout = std::chrono::seconds(5);  // the new vhostd reads its channel at all times
constexpr auto stop_grace = std::chrono::seconds(10);   // for a failed new vhostd, from SIGTERM to SIGKILL

// "NAME=" followed by room for a pid, which the child fills in after fork: systemd's
// LISTEN_PID and WATCHDOG_PID must name the process that reads them.
struct PidVariable {
    std::string text;
    std::size_t digits_at;
};

PidVariable pid_variable(const char* name) {
    std::string text = std::string(name) + "=";
    const std::size_t at = text.size();
    text.append(20, '\0');
    return {std::move(text), at};
}

// Async-signal-safe: after fork in a threaded process, only such calls.
void write_pid(char* out, pid_t pid) {
    char digits[20];
    int count = 0;
    do {
        digits[count++] = static_cast<char>('0' + pid % 10);
        pid /= 10;
    } while (pid > 0);
    while (count > 0) *out++ = digits[--count];
    *out = '\0';
}

// A new vhostd that failed: SIGTERM (it stops its workers), SIGKILL if it is still there
// after stop_grace (its workers die with it), reaped either way. A thread, not the event
// loop: it may wait.
void stop_in_background(pid_t pid) {
    ::kill(pid, SIGTERM);
    std::thread([pid] {
        const auto give_up = std::chrono::steady_clock::now() + stop_grace;
        int status = 0;
        while (::waitpid(pid, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() >= give_up) {
                ::kill(pid, SIGKILL);
                while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }).detach();
}

// In the child, before exec: signals as a fresh process has them. Until exec, a signal
// would otherwise run vhostd's handler, which writes to a pipe shared with the parent.
void reset_signals() {
    for (int signal = 1; signal < NSIG; ++signal) {
        if (signal == SIGKILL || signal == SIGSTOP) continue;
        struct sigaction default_action {};
        default_action.sa_handler = SIG_DFL;
        ::sigaction(signal, &default_action, nullptr);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace

Successor::Successor(asio::io_context& io, const std::string& binary, const std::vector<std::string>& arguments,
                     const std::vector<int>& sockets)
    : channel_(io), ready_timer_(io) {
    // SEQPACKET: a line and its fd go whole or not at all, so a send that times out cannot
    // leave half a line for the next one to garble.
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
    }
    protocol::FileDescriptor ours(pair[0]);
    protocol::FileDescriptor theirs(pair[1]);
    const timeval timeout{send_timeout.count(), 0};
    ::setsockopt(ours.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);

    // Everything the child needs is built before fork: it may only call what is
    // async-signal-safe.
    const int count = static_cast<int>(sockets.size());
    const int channel_fd = server::InheritedSockets::first_fd + count;
    std::vector<std::string> variables{"LISTEN_FDS=" + std::to_string(count), std::string(env_upgrade_fd) + "=" + std::to_string(channel_fd)};
    PidVariable listen_pid = pid_variable("LISTEN_PID");
    PidVariable watchdog_pid = pid_variable("WATCHDOG_PID");
    std::vector<char*> environment;
    for (char** variable = environ; *variable != nullptr; ++variable) {
        const std::string_view text(*variable);
        if (text.starts_with("LISTEN_") || text.starts_with("WATCHDOG_PID=") || text.starts_with(env_upgrade_fd)) continue;
        environment.push_back(*variable);
    }
    for (std::string& variable : variables) environment.push_back(variable.data());
    environment.push_back(listen_pid.text.data());
    if (std::getenv("WATCHDOG_USEC") != nullptr) environment.push_back(watchdog_pid.text.data());
    environment.push_back(nullptr);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    // The sources move out of the way of 3.. first, so that no dup2 overwrites one still to come.
    std::vector<int> sources(sockets);
    sources.push_back(theirs.get());
    const int parking = channel_fd + 1 + 64;

    // No signal handler runs in the child between fork and its reset.
    sigset_t all;
    sigset_t before;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &before);
    pid_ = ::fork();
    if (pid_ == 0) {
        reset_signals();
        for (std::size_t i = 0; i < sources.size(); ++i) {
            sources[i] = ::fcntl(sources[i], F_DUPFD, parking);
            if (sources[i] < 0) ::_exit(127);
        }
        for (std::size_t i = 0; i < sources.size(); ++i) {
            if (::dup2(sources[i], server::InheritedSockets::first_fd + static_cast<int>(i)) < 0) ::_exit(127);
        }
        if (::close_range(static_cast<unsigned>(channel_fd + 1), ~0U, 0) != 0) {
            for (int fd = channel_fd + 1; fd < 65536; ++fd) ::close(fd);  // a kernel before 5.9
        }
        supervisor::keep_capabilities_across_exec();
        write_pid(listen_pid.text.data() + listen_pid.digits_at, ::getpid());
        write_pid(watchdog_pid.text.data() + watchdog_pid.digits_at, ::getpid());
        ::execve(argv[0], argv.data(), environment.data());
        ::_exit(127);
    }
    const int fork_error = errno;
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(fork_error));
    theirs.reset();
    channel_.assign(ours.release());
    spdlog::info("upgrade: started {} as pid {} with {} listening sockets", binary, pid_, count);
}

Successor::~Successor() {
    boost::system::error_code ignored;
    channel_.close(ignored);
}

void Successor::wait_until_ready(std::chrono::seconds timeout, std::function<void(std::string)> done) {
    auto once = std::make_shared<std::function<void(std::string)>>(std::move(done));
    ready_timer_.expires_after(timeout);
    ready_timer_.async_wait([this, once, timeout](boost::system::error_code ec) {
        if (ec || settled_) return;  // aborted: `this` may be gone
        fail(once, "the new vhostd (pid " + std::to_string(pid_) + ") was not ready within " + std::to_string(timeout.count()) + " s");
    });
    read_ready(once);
}

void Successor::read_ready(std::shared_ptr<std::function<void(std::string)>> done) {
    channel_.async_wait(asio::posix::descriptor_base::wait_read, [this, done](boost::system::error_code ec) {
        if (ec == asio::error::operation_aborted || settled_) return;  // aborted: `this` may be gone
        char line[protocol::max_message_size];
        const ssize_t got = ec ? -1 : ::recv(channel_.native_handle(), line, sizeof line, MSG_DONTWAIT);
        if (got < 0 && !ec && (errno == EAGAIN || errno == EINTR)) {
            read_ready(done);
            return;
        }
        const auto message = got > 0 ? protocol::decode_message(std::string_view(line, static_cast<std::size_t>(got)).substr(0, static_cast<std::size_t>(got) - 1))
                                     : std::nullopt;
        if (message && protocol::command_of(*message) == protocol::command::ready) {
            settled_ = true;
            ready_ = true;
            ready_timer_.cancel();
            (*done)("");
            return;
        }
        fail(done, got == 0 ? "the new vhostd (pid " + std::to_string(pid_) + ") exited before it was ready; see its log above"
                            : "the new vhostd (pid " + std::to_string(pid_) + ") sent something other than vhostd:ready");
    });
}

void Successor::fail(const std::shared_ptr<std::function<void(std::string)>>& done, const std::string& why) {
    abandon();
    (*done)(why + "; stopped it");
}

void Successor::abandon() {
    if (settled_) return;
    settled_ = true;
    ready_timer_.cancel();
    boost::system::error_code ignored;
    channel_.cancel(ignored);
    stop_in_background(pid_);
}

bool Successor::send(const std::string& line, int fd) {
    if (broken_) return false;
    std::lock_guard lock(send_mutex_);
    if (protocol::send_with_fd(channel_.native_handle(), line, fd, 0) == static_cast<ssize_t>(line.size())) return true;
    spdlog::error("upgrade: the channel to the new vhostd (pid {}) broke: {}; the connections still here are answered here", pid_,
                  std::strerror(errno));
    broken_ = true;
    return false;
}

bool Successor::pass(server::WaitingConnection& connection) {
    return send(encode_waiting(connection), connection.socket.get());
}

bool Successor::pass(protocol::PendingConnection& connection) {
    return send(protocol::encode_handle(connection.info), connection.socket.get());
}

}  // namespace vhostd::service
