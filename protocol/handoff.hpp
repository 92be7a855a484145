// The boundary between the front (server/) and the worker pools (supervisor/): a connection
// whose head has been read and routed, on its way to one of a site's workers.
#pragma once

#include "protocol/file_descriptor.hpp"
#include "protocol/message.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace vhostd::protocol {

// What ties a connection of a site with affinity to a worker slot (supervisor/affinity.hpp): a
// hash of the client's address or cookie, or the slot the cookie names.
struct AffinityKey {
    std::uint64_t value = 0;
    bool names_slot = false;  // value is a slot number the client brought

    bool operator==(const AffinityKey&) const = default;
};

struct PendingConnection {
    FileDescriptor socket;              // blocking, options reset: ready for a worker
    ConnectionInfo info;
    std::string head;                   // the peeked head, to check it is still unread before a retry
    std::chrono::steady_clock::time_point accepted_at;
    bool handed_before = false;         // a worker died before reading it: counted already
    unsigned refusals = 0;              // workers that said its fd did not reach them
    int refused_by = 0;                 // the pid of the last of them
    // Set by a site with affinity: the key of the worker slot it must go to.
    std::optional<AffinityKey> affinity_key;
    // Called when no worker can take the connection (queue full, queue timeout, site down):
    // the front answers 503 with Retry-After and closes. May be called from any thread.
    std::function<void(FileDescriptor socket, int retry_after_seconds, const char* why)> reject;
};

class ConnectionDispatcher {
public:
    virtual ~ConnectionDispatcher() = default;
    // Thread-safe. The site is connection.info.site. The dispatcher owns the connection
    // from here on.
    virtual void dispatch(PendingConnection connection) = 0;
};

}  // namespace vhostd::protocol
