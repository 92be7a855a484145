// The messages of the vhostd <-> worker channel: one JSON object per line. Pure: no I/O.
// Connections travel as Node.js IPC handles ({"cmd":"NODE_HANDLE",...} plus the fd) so that a
// Node worker can receive them without native code; vhostd's own commands start with "vhostd:".
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vhostd::protocol {

namespace command {
inline constexpr std::string_view handle = "NODE_HANDLE";          // vhostd -> worker, carries an fd
inline constexpr std::string_view handle_ack = "NODE_HANDLE_ACK";  // worker -> vhostd, one per handle, in order
// worker -> vhostd, instead of an ack: the line came without its fd (Node.js sends it when
// the kernel truncated the ancillary data, e.g. the worker is out of file descriptors).
inline constexpr std::string_view handle_nack = "NODE_HANDLE_NACK";
inline constexpr std::string_view ready = "vhostd:ready";          // worker -> vhostd, once
inline constexpr std::string_view heartbeat = "vhostd:heartbeat";  // worker -> vhostd, periodically
inline constexpr std::string_view drain = "vhostd:drain";          // vhostd -> worker: finish and exit
}  // namespace command

// A message line may not be longer than this; a peer that sends more is broken.
inline constexpr std::size_t max_message_size = 64 * 1024;

// For a connection that came in on a `tls = true` listener.
struct TlsInfo {
    // true: the worker gets the raw TCP connection with the ClientHello unread and
    // terminates TLS itself; false: vhostd terminated it and the worker reads plain HTTP
    // from a Unix socket that vhostd relays.
    bool passthrough = false;
    std::string server_name;         // SNI, normalised; empty when the client sent none
    std::string alpn;                // negotiated protocol ("http/1.1"); terminate mode only
    std::string version;             // "TLSv1.3"; terminate mode only
    std::string cipher;              // "TLS_AES_128_GCM_SHA256"; terminate mode only

    bool operator==(const TlsInfo&) const = default;
};

// What the worker learns about a connection it is handed.
struct ConnectionInfo {
    std::uint64_t id = 0;            // unique within one vhostd run
    std::string site;
    std::string remote_address;      // "127.0.0.1", "::1"
    std::uint16_t remote_port = 0;
    std::string local_address;
    std::uint16_t local_port = 0;
    std::string host;                // the normalised Host the front routed on
    bool websocket = false;          // the head asks for a WebSocket upgrade
    std::size_t head_length = 0;     // bytes of request head waiting unread in the socket
                                     // (of ClientHello records, for passthrough)
    std::optional<TlsInfo> tls;      // unset for plain HTTP
};

struct Heartbeat {
    std::uint64_t active_connections = 0;
    std::uint64_t requests = 0;      // served since the worker started
    std::uint64_t websockets = 0;    // sessions open now
};

// Encoders return the full line, newline included.
std::string encode_handle(const ConnectionInfo& info);
// The same line into `out` (its old content replaced), without a heap allocation once `out`
// has grown: the front formats one per connection.
void encode_handle_into(std::string& out, const ConnectionInfo& info);
// `text` as a JSON string, quotes included, escaped as Boost.JSON's serializer does.
void append_json_string(std::string& out, std::string_view text);
std::string encode_command(std::string_view cmd);
std::string encode_heartbeat(const Heartbeat& heartbeat);

// Decoding: a line (without its newline) -> the object, or nullopt when it is not a JSON
// object with a string "cmd".
std::optional<boost::json::object> decode_message(std::string_view line);
std::string_view command_of(const boost::json::object& message);
std::optional<ConnectionInfo> connection_info_of(const boost::json::object& handle_message);
Heartbeat heartbeat_of(const boost::json::object& heartbeat_message);

}  // namespace vhostd::protocol
