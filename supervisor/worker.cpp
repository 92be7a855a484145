#include "supervisor/worker.hpp"

#include "protocol/message.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace vhostd::supervisor {

Worker::Worker(ChildProcess process, protocol::Channel channel, unsigned slot, unsigned generation, Clock::time_point started_at)
    : process_(std::move(process)),
      channel_(std::move(channel)),
      slot_(slot),
      generation_(generation),
      started_at_(started_at),
      last_heard_(started_at),
      last_busy_(started_at) {}

WorkerTransition Worker::apply(WorkerEvent event) {
    const WorkerTransition step = transition(state_, event);
    if (step.next != state_) deadline_ = Clock::time_point::max();
    state_ = step.next;
    return step;
}

boost::system::error_code Worker::hand(protocol::PendingConnection& connection, Clock::time_point now) {
    thread_local std::string line;  // one per connection: its capacity is kept, no allocation
    protocol::encode_handle_into(line, connection.info);
    const boost::system::error_code ec = channel_.send(line, connection.socket.get());
    if (ec) {
        // A full channel clears with the next acknowledgement; anything else is for good.
        if (ec != boost::system::errc::resource_unavailable_try_again && ec != boost::system::errc::operation_would_block) {
            channel_usable_ = false;
        }
        return ec;
    }
    in_flight_.push_back(std::move(connection));
    last_busy_ = now;
    return {};
}

bool Worker::on_acknowledged() {
    if (in_flight_.empty()) return false;
    in_flight_.pop_front();  // closes vhostd's copy of the fd
    ++active_estimate_;
    return true;
}

std::optional<protocol::PendingConnection> Worker::on_refused() {
    if (in_flight_.empty()) return std::nullopt;
    protocol::PendingConnection connection = std::move(in_flight_.front());
    in_flight_.pop_front();
    return connection;
}

void Worker::on_heartbeat(const protocol::Heartbeat& heartbeat, Clock::time_point now) {
    heartbeat_ = heartbeat;
    active_estimate_ = heartbeat.active_connections;
    if (load() > 0) last_busy_ = now;
}

std::deque<protocol::PendingConnection> Worker::on_exited() {
    channel_usable_ = false;
    channel_.close();
    return std::exchange(in_flight_, {});
}

std::uint64_t read_rss_bytes(pid_t pid) {
    std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
    std::uint64_t size_pages = 0, resident_pages = 0;
    if (!(statm >> size_pages >> resident_pages)) return 0;
    static const auto page_size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    return resident_pages * page_size;
}

}  // namespace vhostd::supervisor

namespace vhostd::supervisor {

double read_cpu_seconds(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) return 0;
    const auto close_paren = text.rfind(')');  // the command name may contain spaces
    if (close_paren == std::string::npos) return 0;
    std::istringstream fields(text.substr(close_paren + 2));
    std::string skip;
    for (int field = 3; field < 14; ++field) fields >> skip;  // state .. cmajflt
    unsigned long long user = 0, system = 0;
    fields >> user >> system;
    static const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    return static_cast<double>(user + system) / ticks;
}

}  // namespace vhostd::supervisor
