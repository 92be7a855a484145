// The access log: one line per connection outcome — handed to a worker, or answered by the
// front — in plain text or JSON. Off unless [server] access_log is set. Writing never blocks
// the thread that writes: lines go through a bounded queue to a logging thread, and when the
// queue is full the oldest line is dropped rather than the accept path slowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vhostd::accesslog {

struct Entry {
    std::string_view client_address;
    std::uint16_t client_port = 0;
    std::string_view host;     // empty when the head had none or was not read
    std::string_view site;     // empty when the connection was not routed
    int worker_pid = 0;        // 0 when no worker got it
    std::string_view outcome;  // "handed", or the status the front answered ("404", "503", ...)
    double handoff_us = 0;     // accept to fd sent, for handed connections
};

// Opens (or reopens) the log at `path`; throws std::runtime_error when it cannot.
void open(const std::string& path, bool json);
void close();
bool enabled();
void write(const Entry& entry);

}  // namespace vhostd::accesslog
