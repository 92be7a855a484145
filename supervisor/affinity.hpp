// Session affinity (conf::Affinity): the key that ties a connection to a worker slot, and
// the slot it names. Pure and allocation-free: it runs for every connection of such a site.
#pragma once

#include "conf/config.hpp"
#include "protocol/handoff.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace vhostd::supervisor {

// The connection's key: a hash of the client's address, or of the cookie's value in
// `http_head` (empty when the connection carries no readable HTTP head, as a TLS
// passthrough one). A cookie whose value is a slot number (decimal, below 256) names that
// slot instead: a worker that makes a session sets the cookie to its VHOSTD_WORKER_SLOT,
// and the client's next connections come back to it. nullopt when the site has no affinity
// or the cookie is absent: the connection then goes to the least busy worker. The same input
// gives the same key in every run of vhostd.
std::optional<protocol::AffinityKey> affinity_key(const conf::Affinity& affinity, std::string_view client_address,
                                                  std::string_view http_head);

// The slot, 0 … slots-1, a key belongs to: the slot it names, if there is one, else its
// hash's. Consistent: when `slots` grows from N to N+1 only the hashes that move to the new
// slot change slot (about 1 in N+1), and none when it shrinks but those of the slots that are
// gone.
unsigned affinity_slot(protocol::AffinityKey key, unsigned slots);

}  // namespace vhostd::supervisor
