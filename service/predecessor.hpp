// In a vhostd started by an upgrade: the channel to the vhostd it replaces
// (VHOSTD_UPGRADE_FD). This one says when it is ready; the old one then stops accepting and
// passes over the connections it still holds, until it exits.
#pragma once

#include "protocol/channel.hpp"
#include "protocol/message.hpp"
#include "server/waiting_connection.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>

namespace vhostd::service {

class Predecessor {
public:
    // From VHOSTD_UPGRADE_FD, which it unsets; null when vhostd was not started by an upgrade.
    // Throws std::runtime_error when the variable is malformed.
    static std::unique_ptr<Predecessor> from_environment(boost::asio::io_context& io);

    Predecessor(boost::asio::io_context& io, protocol::FileDescriptor channel);

    // Says "vhostd:ready", then gives every connection the old vhostd passes to `waiting` (still
    // waiting for its first bytes) or `routed` (routed and queued for a worker of info.site).
    using Waiting = std::function<void(server::WaitingConnection)>;
    using Routed = std::function<void(protocol::FileDescriptor, protocol::ConnectionInfo)>;
    void take_over(Waiting waiting, Routed routed);

private:
    boost::asio::awaitable<void> receive(Waiting waiting, Routed routed);

    boost::asio::io_context& io_;
    protocol::Channel channel_;
    std::size_t taken_ = 0;
};

}  // namespace vhostd::service
