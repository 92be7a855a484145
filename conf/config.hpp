// The configuration as plain immutable data. conf/ is the only place that knows TOML;
// everything else takes these structs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vhostd::conf {

using Duration = std::chrono::milliseconds;

// "host:port" split once at load time. IPv6 hosts are kept without brackets.
struct Endpoint {
    std::string host;    // "0.0.0.0", "127.0.0.1", "::1"
    std::uint16_t port = 0;
};

struct Listener {
    std::string address;  // as written, for messages
    Endpoint endpoint;
    bool tls = false;
};

struct ServerSettings {
    unsigned threads = 2;
    Duration head_timeout = std::chrono::seconds(10);
    std::size_t max_head_size = 16 * 1024;
    std::size_t max_header_fields = 100;
};

struct AdminSettings {
    std::string address;
    Endpoint endpoint;
};

struct RestartLimit {
    unsigned count = 10;
    Duration window = std::chrono::seconds(60);
};

struct Site {
    std::string name;
    std::vector<std::string> hosts;        // lower-case; "*.suffix" for wildcards
    std::vector<std::string> command;      // command[0] resolved against the config dir if it has a '/'
    std::string cwd;                       // absolute; defaults to the config file's directory
    std::map<std::string, std::string> env;
    unsigned workers = 1;
    bool is_default = false;
    Duration max_age = std::chrono::hours(1);
    std::uint64_t max_memory = 0;          // bytes; 0 = no limit
    Duration heartbeat_timeout = std::chrono::seconds(10);
    Duration drain_timeout = std::chrono::seconds(30);
    RestartLimit restart_limit;
    // Connections the front has handed to one worker that it has not acknowledged yet.
    unsigned max_in_flight = 16;
    // Connections waiting in the front for a worker of this site.
    std::size_t queue_size = 1024;
    Duration queue_timeout = std::chrono::seconds(5);
};

struct Config {
    std::string path;                      // absolute path of the file it came from
    std::vector<Listener> listeners;
    ServerSettings server;
    std::optional<AdminSettings> admin;
    std::vector<Site> sites;               // in file order
};

}  // namespace vhostd::conf
