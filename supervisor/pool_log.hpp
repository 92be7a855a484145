// How the pool's log lines spell durations and exits.
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <string>

namespace vhostd::supervisor {

inline long long milliseconds(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// A wait status, in words: "exited with code 1", "killed by signal 9 (Killed)".
inline std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
    return "ended with status " + std::to_string(status);
}

}  // namespace vhostd::supervisor
