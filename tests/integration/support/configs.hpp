// Config snippets for integration tests: every test gets its own ports and directory.
#pragma once

#include "tests/integration/test_paths.hpp"

#include <cstdint>
#include <string>

namespace vhostd::test {

inline std::string listen_on(std::uint16_t port) {
    return "[[listen]]\naddress = \"127.0.0.1:" + std::to_string(port) + "\"\n\n";
}

// A site served by hello-worker. `extra` is more TOML lines for the site's table.
inline std::string hello_site(const std::string& name, const std::string& hosts, unsigned workers, const std::string& extra = "") {
    return "[sites." + name + "]\nhosts = " + hosts + "\ncommand = [\"" + hello_worker_binary + "\"]\nworkers = " +
           std::to_string(workers) + "\n" + extra + "\n";
}

// A site served by test-worker with `flags` (see workers/test_worker.cpp).
inline std::string test_site(const std::string& name, const std::string& hosts, const std::string& flags,
                             const std::string& extra = "") {
    std::string command = "[\"" + std::string(test_worker_binary) + "\"";
    std::size_t start = 0;
    while (start < flags.size()) {
        const auto end = std::min(flags.find(' ', start), flags.size());
        if (end > start) command += ", \"" + flags.substr(start, end - start) + "\"";
        start = end + 1;
    }
    return "[sites." + name + "]\nhosts = " + hosts + "\ncommand = " + command + "]\n" + extra + "\n";
}

}  // namespace vhostd::test
