// What goes over the channel between an old vhostd and the one replacing it (docs/protocol.md
// §13): the same JSON lines with SCM_RIGHTS as the worker channel. The new one says
// "vhostd:ready"; the old one then sends NODE_HANDLE lines: "net.Socket" for a connection it
// had routed (the worker handoff's own message), "vhostd.WaitingSocket" for one still waiting
// for its first bytes.
#pragma once

#include "protocol/file_descriptor.hpp"
#include "server/waiting_connection.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace vhostd::service {

inline constexpr const char* env_upgrade_fd = "VHOSTD_UPGRADE_FD";
inline constexpr std::string_view waiting_socket_type = "vhostd.WaitingSocket";

// The line for `connection`, without its fd, newline included.
std::string encode_waiting(const server::WaitingConnection& connection);
// From a NODE_HANDLE of type vhostd.WaitingSocket and its fd; nullopt when malformed.
std::optional<server::WaitingConnection> waiting_connection_of(const boost::json::object& message, protocol::FileDescriptor fd);

}  // namespace vhostd::service
