#include "supervisor/worker.hpp"

#include "protocol/message.hpp"

namespace vhostd::supervisor {

const char* to_string(WorkerState state) {
    switch (state) {
        case WorkerState::starting: return "starting";
        case WorkerState::ready: return "ready";
        case WorkerState::draining: return "draining";
        case WorkerState::exited: return "exited";
    }
    return "unknown";
}

Worker::Worker(ChildProcess process, protocol::Channel channel, unsigned slot, unsigned generation)
    : process_(std::move(process)), channel_(std::move(channel)), slot_(slot), generation_(generation) {}

boost::system::error_code Worker::hand(protocol::PendingConnection& connection) {
    const boost::system::error_code ec = channel_.send(protocol::encode_handle(connection.info), connection.socket.get());
    if (ec) {
        // A full channel clears with the next acknowledgement; anything else is for good.
        if (ec != boost::system::errc::resource_unavailable_try_again && ec != boost::system::errc::operation_would_block) channel_usable_ = false;
        return ec;
    }
    in_flight_.push_back(std::move(connection));
    return {};
}

bool Worker::on_acknowledged() {
    if (in_flight_.empty()) return false;
    in_flight_.pop_front();  // closes vhostd's copy of the fd
    ++active_estimate_;
    return true;
}

void Worker::on_heartbeat(const protocol::Heartbeat& heartbeat) {
    heartbeat_ = heartbeat;
    active_estimate_ = heartbeat.active_connections;
}

void Worker::start_draining() {
    if (state_ == WorkerState::exited) return;
    state_ = WorkerState::draining;
    channel_.send(protocol::encode_command(protocol::command::drain));
}

std::deque<protocol::PendingConnection> Worker::on_exited() {
    state_ = WorkerState::exited;
    channel_usable_ = false;
    channel_.close();
    return std::exchange(in_flight_, {});
}

}  // namespace vhostd::supervisor
