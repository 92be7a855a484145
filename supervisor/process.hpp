// Starting a worker process: fork + exec with exactly the fds and environment it should have.
#pragma once

#include "protocol/file_descriptor.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vhostd::supervisor {

struct ProcessSpec {
    std::vector<std::string> argv;         // argv[0] is looked up in PATH when it has no '/'
    std::vector<std::string> environment;  // "NAME=value", the whole environment
    std::string cwd;
    int channel_fd = -1;                   // becomes fd 3 in the child
    std::string user;                      // run as this user (and its group) when vhostd is root
    std::string group;                     // run with this group
    std::uint64_t open_files = 0;          // RLIMIT_NOFILE; 0 = inherited
    std::uint64_t address_space = 0;       // RLIMIT_AS in bytes; 0 = inherited
};

struct ChildProcess {
    pid_t pid = -1;
    protocol::FileDescriptor pidfd;        // signals go through it, so a reused pid is never hit
    protocol::FileDescriptor stdout_pipe;  // read ends
    protocol::FileDescriptor stderr_pipe;
};

// The child gets: stdin /dev/null, stdout and stderr to pipes, the channel at fd 3 and no
// other fd; its own process group; SIGKILL when vhostd dies (PR_SET_PDEATHSIG); default
// signal dispositions and an empty signal mask. Throws std::system_error naming the step
// that failed, including an exec failure in the child (reported through a CLOEXEC pipe).
ChildProcess spawn_process(const ProcessSpec& spec);

// Sends `signal` to the process through its pidfd, and to its whole process group so that
// grandchildren go with it. Call it only before the child is reaped: until then its pid,
// and so its group id, cannot be reused.
void signal_process_group(const ChildProcess& child, int signal);

}  // namespace vhostd::supervisor
