#include "supervisor/process_host.hpp"

#include <sys/wait.h>

#include <cerrno>

namespace vhostd::supervisor {

std::chrono::steady_clock::time_point SystemProcessHost::now() const { return std::chrono::steady_clock::now(); }

ChildProcess SystemProcessHost::start(const ProcessSpec& spec) { return spawn_process(spec); }

void SystemProcessHost::signal(const ChildProcess& child, int signal) { signal_process_group(child, signal); }

int SystemProcessHost::reap(const ChildProcess& child) {
    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {}
    return status;
}

}  // namespace vhostd::supervisor
