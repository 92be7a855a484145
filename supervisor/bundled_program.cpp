#include "supervisor/bundled_program.hpp"

#include <unistd.h>

#include <filesystem>

namespace vhostd::supervisor {

std::string bundled_program(const std::string& program) {
    if (!program.starts_with("vhostd-") || program.find('/') != std::string::npos) return program;
    std::error_code error;
    const auto beside = std::filesystem::read_symlink("/proc/self/exe", error).parent_path() / program;
    if (!error && ::access(beside.c_str(), X_OK) == 0) return beside.string();
    return program;
}

}  // namespace vhostd::supervisor
