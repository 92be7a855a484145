#include "supervisor/process.hpp"

#include "supervisor/privileges.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace vhostd::supervisor {

using protocol::FileDescriptor;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::system_category(), what); }

struct Pipe {
    FileDescriptor read;
    FileDescriptor write;
};

Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail("pipe2");
    return {FileDescriptor(fds[0]), FileDescriptor(fds[1])};
}

// The steps of exec_child, so the parent can say which one failed.
enum ChildStep : int { step_pdeathsig = 1, step_fds, step_limits, step_credentials, step_chdir, step_exec };

const char* describe(int step) {
    switch (step) {
        case step_pdeathsig: return "prctl(PR_SET_PDEATHSIG)";
        case step_fds: return "setting up fds";
        case step_limits: return "setrlimit";
        case step_credentials: return "switching user/group";
        case step_chdir: return "chdir to the site's cwd";
        default: return "exec";
    }
}

// What the child becomes: resolved in the parent, where getpwnam() may be called.
struct Identity {
    bool change = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

Identity resolve_identity(const ProcessSpec& spec) {
    Identity identity;
    if (spec.user.empty() && spec.group.empty()) return identity;
    if (!can_switch_users()) throw std::runtime_error("user/group need vhostd to run as root");
    identity.change = true;
    identity.uid = ::getuid();
    identity.gid = ::getgid();
    if (!spec.user.empty()) {
        const passwd* user = ::getpwnam(spec.user.c_str());
        if (user == nullptr) throw std::runtime_error("unknown user '" + spec.user + "'");
        identity.uid = user->pw_uid;
        identity.gid = user->pw_gid;
    }
    if (!spec.group.empty()) {
        const group* found = ::getgrnam(spec.group.c_str());
        if (found == nullptr) throw std::runtime_error("unknown group '" + spec.group + "'");
        identity.gid = found->gr_gid;
    }
    return identity;
}

struct ChildSetup {
    const char* cwd;
    char* const* argv;
    char* const* envp;
    pid_t parent;
    Identity identity;
    std::uint64_t open_files;
    std::uint64_t address_space;
};

constexpr int report_fd = 4;  // in the child, until exec closes it

// Runs in the child between fork and exec: async-signal-safe calls only. On failure it
// writes {step, errno} to the report pipe and exits 127.
[[noreturn]] void exec_child(const ChildSetup& setup, int null_fd, int stdout_fd, int stderr_fd, int channel_fd, int report) {
    auto die = [&report](int step) {
        const int error[2] = {step, errno};
        [[maybe_unused]] auto ignored = ::write(report, error, sizeof error);
        ::_exit(127);
    };
    ::setpgid(0, 0);
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die(step_pdeathsig);
    if (::getppid() != setup.parent) ::_exit(127);  // vhostd died before prctl took effect

    // Default handlers first (ignored signals would survive exec, and vhostd's own handlers
    // must not run here), then unmask.
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    // Lift every source above the targets first so no dup2 overwrites a source still needed.
    int sources[5] = {null_fd, stdout_fd, stderr_fd, channel_fd, report};
    for (int& fd : sources) {
        fd = ::fcntl(fd, F_DUPFD, 10);
        if (fd < 0) die(step_fds);
    }
    report = sources[4];
    for (int target = 0; target < 4; ++target) {
        if (::dup2(sources[target], target) < 0) die(step_fds);
    }
    if (::dup3(sources[4], report_fd, O_CLOEXEC) < 0) die(step_fds);
    report = report_fd;
    if (::close_range(report_fd + 1, ~0U, 0) != 0) die(step_fds);

    if (setup.open_files > 0) {
        const rlimit limit{setup.open_files, setup.open_files};
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) die(step_limits);
    }
    if (setup.address_space > 0) {
        const rlimit limit{setup.address_space, setup.address_space};
        if (::setrlimit(RLIMIT_AS, &limit) != 0) die(step_limits);
    }
    if (setup.identity.change) {
        // Supplementary groups first, while still allowed to set them; the uid last.
        if (::setgroups(1, &setup.identity.gid) != 0 || ::setgid(setup.identity.gid) != 0 || ::setuid(setup.identity.uid) != 0) {
            die(step_credentials);
        }
        // Changing credentials clears the parent-death signal: set it again.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die(step_pdeathsig);
        if (::getppid() != setup.parent) ::_exit(127);
    }
    if (::chdir(setup.cwd) != 0) die(step_chdir);
    ::execvpe(setup.argv[0], setup.argv, setup.envp);
    die(step_exec);
    ::_exit(127);  // die() never returns; this tells the compiler so
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
    pointers.push_back(nullptr);
    return pointers;
}

}  // namespace

ChildProcess spawn_process(const ProcessSpec& spec) {
    if (spec.argv.empty()) throw std::invalid_argument("empty command");
    FileDescriptor dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!dev_null) fail("open /dev/null");
    Pipe out = make_pipe();
    Pipe err = make_pipe();
    Pipe report = make_pipe();
    // Everything the child touches is prepared before fork: it may only make async-signal-safe calls.
    std::vector<char*> argv = c_strings(spec.argv);
    std::vector<char*> envp = c_strings(spec.environment);
    const ChildSetup setup{spec.cwd.c_str(), argv.data(), envp.data(), ::getpid(), resolve_identity(spec), spec.open_files, spec.address_space};

    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
        exec_child(setup, dev_null.get(), out.write.get(), err.write.get(), spec.channel_fd, report.write.get());
    }
    ::setpgid(pid, pid);  // also here, so the group exists whichever of the two runs first
    report.write.reset();
    out.write.reset();
    err.write.reset();

    int error[2] = {0, 0};
    ssize_t got;
    do {
        got = ::read(report.read.get(), error, sizeof error);
    } while (got < 0 && errno == EINTR);
    if (got == sizeof error) {
        ::waitpid(pid, nullptr, 0);
        errno = error[1];
        fail(std::string(describe(error[0])) + " failed for '" + spec.argv[0] + "'");
    }

    ChildProcess child;
    child.pid = pid;
    child.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!child.pidfd) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        fail("pidfd_open");
    }
    child.stdout_pipe = std::move(out.read);
    child.stderr_pipe = std::move(err.read);
    return child;
}

void signal_process_group(const ChildProcess& child, int signal) {
    if (child.pidfd) ::syscall(SYS_pidfd_send_signal, child.pidfd.get(), signal, nullptr, 0);
    if (child.pid > 0) ::kill(-child.pid, signal);
}

}  // namespace vhostd::supervisor
