// Messages between one site's processes, and calls to its singleton (docs/protocol.md,
// section 12). Routing only: it never crosses sites because each site has its own bus. Runs
// on the supervisor's strand, like the pool that owns it.
#pragma once

#include "supervisor/worker.hpp"

#include <boost/json/object.hpp>

#include <deque>
#include <map>
#include <optional>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

namespace vhostd::supervisor {

// Who can receive a message now.
struct BusMembers {
    std::shared_ptr<Worker> singleton;              // ready, or null
    bool singleton_coming = false;                  // the site has one, starting or restarting
    std::vector<std::shared_ptr<Worker>> workers;   // ready and not draining
    std::vector<std::shared_ptr<Worker>> everyone;  // every live process, for {"pid": N}
};

class SiteBus {
public:
    // Unsent bytes one channel may hold before messages to it are refused.
    static constexpr std::size_t max_queued_bytes = 1 << 20;

    explicit SiteBus(std::string site);

    // Handles a bus command from `sender` (vhostd:send, vhostd:call, vhostd:reply); false
    // when `command` is none of them.
    bool handle(const std::shared_ptr<Worker>& sender, std::string_view command, const boost::json::object& message,
                const BusMembers& members, Clock::time_point now);
    // A line from `sender` that is none of vhostd's commands (a Node app's process.send):
    // to the singleton as a vhostd:message from the sender, as a cluster worker's message
    // reaches the primary; without a singleton to take it, dropped and counted.
    // `data` is empty for a line nested too deep to pass on.
    void pass_app_message(const std::shared_ptr<Worker>& sender, std::optional<boost::json::value> data, const BusMembers& members);
    // The singleton is ready: calls made while it was starting go to it now.
    void singleton_ready(const BusMembers& members, Clock::time_point now);
    // No singleton will come (a reload removed it, vhostd stops): waiting calls fail now.
    void fail_waiting_calls(const std::string& reason);
    // The process is gone: calls it was answering fail now, calls it made are forgotten.
    void forget(const Worker& process);
    // Fails calls whose time is up.
    void expire(Clock::time_point now);
    // Sends a scheduled task's message; false when `to` could not take it.
    bool send_task(Worker& to, std::string_view name);

    std::uint64_t delivered() const { return delivered_; }
    std::uint64_t undeliverable() const { return undeliverable_; }
    std::uint64_t app_messages_dropped() const { return app_messages_dropped_; }
    std::size_t calls_pending() const { return calls_.size(); }

private:
    struct Call {
        std::weak_ptr<Worker> caller;
        boost::json::value caller_id;
        pid_t singleton = 0;
        Clock::time_point deadline;
        std::int64_t timeout_ms = 0;
    };

    void send(const std::shared_ptr<Worker>& sender, const boost::json::object& message, const BusMembers& members);
    void call(const std::shared_ptr<Worker>& sender, const boost::json::object& message, const BusMembers& members,
              Clock::time_point now);
    void reply(const Worker& sender, const boost::json::object& message);
    // Sends a line unless the channel already holds too much; the reason when it cannot.
    const char* deliver(Worker& to, const std::string& line);
    void report_undeliverable(Worker& sender, const boost::json::object& message, const std::string& reason);
    void answer_caller(Worker& caller, const boost::json::value& id, const boost::json::object& outcome);

    std::string site_;
    // A call made while the singleton was not ready, waiting for it until its own deadline.
    struct WaitingCall {
        std::weak_ptr<Worker> caller;
        boost::json::object message;
        Clock::time_point deadline;
        std::int64_t timeout_ms = 0;
    };
    static constexpr std::size_t max_waiting_calls = 256;

    void forward_call(const std::shared_ptr<Worker>& caller, const boost::json::object& message, const BusMembers& members,
                      Clock::time_point deadline, std::int64_t timeout_ms);

    std::map<std::uint64_t, Call> calls_;  // by the id vhostd gave the call
    std::deque<WaitingCall> waiting_calls_;
    std::uint64_t next_call_id_ = 1;
    std::minstd_rand random_{std::random_device{}()};
    std::uint64_t delivered_ = 0;
    std::uint64_t undeliverable_ = 0;
    std::uint64_t app_messages_dropped_ = 0;
};

}  // namespace vhostd::supervisor
