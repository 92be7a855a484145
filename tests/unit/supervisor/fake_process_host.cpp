#include "fake_process_host.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <system_error>

namespace vhostd::supervisor::testing {

using protocol::FileDescriptor;

namespace {

// Beyond any pid_max: a fake pid can never name a real process.
constexpr pid_t first_fake_pid = 1'000'000'000;

FileDescriptor checked(int fd, const char* what) {
    if (fd < 0) throw std::system_error(errno, std::system_category(), what);
    return FileDescriptor(fd);
}

// The read end of a pipe whose write end is already closed: the pool's output log reads
// its end of file at once.
FileDescriptor silent_output() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::system_category(), "pipe2");
    ::close(fds[1]);
    return FileDescriptor(fds[0]);
}

}  // namespace

bool FakeProcess::got_signal(int signal) const { return std::find(signals.begin(), signals.end(), signal) != signals.end(); }

ChildProcess FakeProcessHost::start(const ProcessSpec& spec) {
    auto process = std::make_unique<FakeProcess>();
    process->pid = first_fake_pid + static_cast<pid_t>(processes_.size());
    process->spec = spec;
    // The pool closes its copy of the child end once start() returns, as after a fork.
    process->channel = checked(::fcntl(spec.channel_fd, F_DUPFD_CLOEXEC, 0), "dup channel");
    process->exit_event = checked(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd");

    ChildProcess child;
    child.pid = process->pid;
    child.pidfd = checked(::fcntl(process->exit_event.get(), F_DUPFD_CLOEXEC, 0), "dup eventfd");
    child.stdout_pipe = silent_output();
    child.stderr_pipe = silent_output();
    processes_.push_back(std::move(process));
    return child;
}

FakeProcess* FakeProcessHost::find(const ChildProcess& child, const char* what) {
    for (const auto& process : processes_) {
        if (process->pid != child.pid) continue;
        if (process->reaped) break;
        return process.get();
    }
    misuse_.push_back(std::string(what) + " of pid " + std::to_string(child.pid) + ", which is not running");
    return nullptr;
}

void FakeProcessHost::signal(const ChildProcess& child, int signal) {
    if (FakeProcess* process = find(child, "signal")) process->signals.push_back(signal);
}

int FakeProcessHost::reap(const ChildProcess& child) {
    FakeProcess* process = find(child, "reap");
    if (!process) return 0;
    if (!process->exited) misuse_.push_back("reap of pid " + std::to_string(child.pid) + " before it exited");
    process->reaped = true;
    return process->exit_status;
}

void FakeProcessHost::exit(FakeProcess& process, int wait_status) {
    process.exit_status = wait_status;
    process.exited = true;
    process.channel.reset();  // as the kernel closes a dead process's fds
    const std::uint64_t one = 1;
    if (::write(process.exit_event.get(), &one, sizeof one) != sizeof one) {
        throw std::system_error(errno, std::system_category(), "eventfd write");
    }
}

}  // namespace vhostd::supervisor::testing
