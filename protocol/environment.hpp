// What a worker finds in its environment when vhostd starts it (docs/protocol.md).
#pragma once

#include <cstddef>

namespace vhostd::protocol {

inline constexpr int channel_fd = 3;  // the Unix stream socket to vhostd

inline constexpr const char* env_channel_fd = "VHOSTD_CHANNEL_FD";
inline constexpr const char* env_protocol_version = "VHOSTD_PROTOCOL";
inline constexpr const char* env_site = "VHOSTD_SITE";
inline constexpr const char* env_role = "VHOSTD_ROLE";  // "worker", or "singleton"
inline constexpr const char* env_worker_slot = "VHOSTD_WORKER_SLOT";
inline constexpr const char* env_generation = "VHOSTD_GENERATION";
inline constexpr const char* env_heartbeat_interval_ms = "VHOSTD_HEARTBEAT_INTERVAL_MS";
// The front's head limits ([server] max_head_size, max_header_fields): a worker reads heads
// with limits at least these, so that no request the front let through is too large for it.
inline constexpr const char* env_max_head_size = "VHOSTD_MAX_HEAD_SIZE";
inline constexpr const char* env_max_header_fields = "VHOSTD_MAX_HEADER_FIELDS";

// Passthrough sites only: the PEM chain and key files from the site's `tls`, ':'-separated,
// in the same order, for the worker to terminate TLS itself.
inline constexpr const char* env_tls_certs = "VHOSTD_TLS_CERT";
inline constexpr const char* env_tls_keys = "VHOSTD_TLS_KEY";
// With them, the key that encrypts session tickets: the same for every worker of the site
// for as long as vhostd runs, so a client resumes its session whichever worker it reaches.
// Hex of 80 random bytes: a 16-byte key name, a 32-byte HMAC secret, a 32-byte AES key.
inline constexpr const char* env_tls_ticket_key = "VHOSTD_TLS_TICKET_KEY";
inline constexpr std::size_t tls_ticket_key_bytes = 80;

inline constexpr const char* protocol_version = "1";

}  // namespace vhostd::protocol
