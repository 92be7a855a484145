#include "supervisor/site_bus.hpp"

#include "protocol/message.hpp"

#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace vhostd::supervisor {

namespace json = boost::json;

namespace {

constexpr std::int64_t default_call_timeout_ms = 5000;
constexpr std::int64_t max_call_timeout_ms = 600000;

std::string line_of(const json::object& message) { return json::serialize(message) + "\n"; }

// A message's optional "id", echoed in what answers it.
json::value id_of(const json::object& message) { return message.if_contains("id") ? message.at("id") : json::value(); }

json::object address_of(const Worker& process) {
    return {{"role", process.is_singleton() ? "singleton" : "worker"}, {"slot", process.slot()}, {"pid", process.pid()}};
}

}  // namespace

SiteBus::SiteBus(std::string site) : site_(std::move(site)) {}

bool SiteBus::handle(const std::shared_ptr<Worker>& sender, std::string_view command, const json::object& message,
                     const BusMembers& members, Clock::time_point now) {
    if (command == "vhostd:send") {
        send(sender, message, members);
    } else if (command == "vhostd:call") {
        call(sender, message, members, now);
    } else if (command == "vhostd:reply") {
        reply(*sender, message);
    } else {
        return false;
    }
    return true;
}

const char* SiteBus::deliver(Worker& to, const std::string& line) {
    // "from" makes a delivered line longer than the one sent: it must still be a valid line.
    if (line.size() > protocol::max_message_size) return "the message is too large once addressed (64 KiB per line)";
    if (to.channel().queued_bytes() + line.size() > max_queued_bytes) return "its queue is full";
    if (to.channel().send(line)) return "its channel is broken";
    return nullptr;
}

void SiteBus::report_undeliverable(Worker& sender, const json::object& message, const std::string& reason) {
    ++undeliverable_;
    json::object report{{"cmd", "vhostd:undeliverable"}, {"reason", reason}};
    if (const auto* id = message.if_contains("id")) report["id"] = *id;
    if (const auto* to = message.if_contains("to")) report["to"] = *to;
    spdlog::debug("site {}: undeliverable from pid {}: {}", site_, sender.pid(), reason);
    deliver(sender, line_of(report));  // a sender that cannot take even this learns nothing more
}

void SiteBus::send(const std::shared_ptr<Worker>& sender, const json::object& message, const BusMembers& members) {
    const json::value* to = message.if_contains("to");
    const json::value* data = message.if_contains("data");
    std::vector<std::shared_ptr<Worker>> recipients;
    std::string nobody;
    if (to && to->is_string() && to->get_string() == "singleton") {
        if (members.singleton && members.singleton != sender) recipients.push_back(members.singleton);
        else nobody = "the site has no singleton running";
    } else if (to && to->is_string() && (to->get_string() == "worker" || to->get_string() == "workers")) {
        for (const auto& worker : members.workers) {
            if (worker != sender) recipients.push_back(worker);
        }
        if (recipients.empty()) {
            nobody = "the site has no other ready worker";
        } else if (to->get_string() == "worker") {
            std::uniform_int_distribution<std::size_t> pick(0, recipients.size() - 1);
            recipients = {recipients[pick(random_)]};
        }
    } else if (to && to->is_object() && to->as_object().if_contains("pid") && to->as_object().at("pid").is_int64()) {
        const auto pid = to->as_object().at("pid").as_int64();
        const auto found = std::find_if(members.everyone.begin(), members.everyone.end(), [pid](const auto& p) { return p->pid() == pid; });
        if (found != members.everyone.end() && *found != sender) recipients.push_back(*found);
        else nobody = "no ready process " + std::to_string(pid) + " in this site";
    } else {
        nobody = "\"to\" must be \"singleton\", \"worker\", \"workers\" or {\"pid\": N}";
    }
    if (recipients.empty()) {
        report_undeliverable(*sender, message, nobody);
        return;
    }
    json::object delivery{{"cmd", "vhostd:message"}, {"from", address_of(*sender)}, {"data", data ? *data : json::value()}};
    const std::string line = line_of(delivery);
    if (line.size() > protocol::max_message_size) {  // once for the send, not per recipient
        report_undeliverable(*sender, message, "the message is too large once addressed (64 KiB per line)");
        return;
    }
    for (const auto& recipient : recipients) {
        if (const char* problem = deliver(*recipient, line)) {
            report_undeliverable(*sender, message, "process " + std::to_string(recipient->pid()) + ": " + problem);
        } else {
            ++delivered_;
        }
    }
}

void SiteBus::call(const std::shared_ptr<Worker>& sender, const json::object& message, const BusMembers& members,
                   Clock::time_point now) {
    const json::value caller_id = id_of(message);
    const json::value* method = message.if_contains("method");
    if (!method || !method->is_string()) {
        answer_caller(*sender, caller_id, {{"error", "a call needs a \"method\" string"}});
        return;
    }
    if (sender->is_singleton()) {
        answer_caller(*sender, caller_id, {{"error", "the singleton cannot call itself"}});
        return;
    }
    std::int64_t timeout_ms = default_call_timeout_ms;
    if (const auto* given = message.if_contains("timeoutMs"); given && given->is_int64() && given->as_int64() > 0) {
        timeout_ms = std::min(given->as_int64(), max_call_timeout_ms);
    }
    const Clock::time_point deadline = now + std::chrono::milliseconds(timeout_ms);
    if (!members.singleton && members.singleton_coming && waiting_calls_.size() < max_waiting_calls) {
        // Starting or restarting: the call waits for it, within its own timeout.
        waiting_calls_.push_back(WaitingCall{sender, message, deadline, timeout_ms});
        return;
    }
    if (!members.singleton) {
        answer_caller(*sender, caller_id,
                      {{"error", members.singleton_coming ? "too many calls wait for the singleton to start"
                                                          : "the site has no singleton running"}});
        return;
    }
    forward_call(sender, message, members, deadline, timeout_ms);
}

void SiteBus::forward_call(const std::shared_ptr<Worker>& caller, const json::object& message, const BusMembers& members,
                           Clock::time_point deadline, std::int64_t timeout_ms) {
    const json::value caller_id = id_of(message);
    const std::uint64_t id = next_call_id_++;
    json::object forwarded{{"cmd", "vhostd:call"}, {"id", id}, {"method", message.at("method")}, {"from", address_of(*caller)}, {"timeoutMs", timeout_ms}};
    if (const auto* args = message.if_contains("args")) forwarded["args"] = *args;
    if (const char* problem = deliver(*members.singleton, line_of(forwarded))) {
        answer_caller(*caller, caller_id, {{"error", std::string("the singleton cannot take it: ") + problem}});
        return;
    }
    ++delivered_;
    calls_[id] = Call{caller, caller_id, members.singleton->pid(), deadline, timeout_ms};
}

void SiteBus::singleton_ready(const BusMembers& members, Clock::time_point now) {
    if (!members.singleton) return;
    expire(now);
    for (auto waiting = std::exchange(waiting_calls_, {}); !waiting.empty(); waiting.pop_front()) {
        WaitingCall& call = waiting.front();
        const auto caller = call.caller.lock();
        // The singleton gets the time the call has left; expire() keeps its deadline.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(call.deadline - now).count();
        if (caller) forward_call(caller, call.message, members, call.deadline, std::max<std::int64_t>(left, 1));
    }
}

void SiteBus::fail_waiting_calls(const std::string& reason) {
    for (auto waiting = std::exchange(waiting_calls_, {}); !waiting.empty(); waiting.pop_front()) {
        const WaitingCall& call = waiting.front();
        if (const auto caller = call.caller.lock()) {
            answer_caller(*caller, id_of(call.message), {{"error", reason}});
        }
    }
}

void SiteBus::pass_app_message(const std::shared_ptr<Worker>& sender, std::optional<json::value> data, const BusMembers& members) {
    if (data && members.singleton && members.singleton != sender) {
        const std::string line = line_of({{"cmd", "vhostd:message"}, {"from", address_of(*sender)}, {"data", std::move(*data)}});
        if (deliver(*members.singleton, line) == nullptr) {
            ++delivered_;
            return;
        }
    }
    if (app_messages_dropped_++ == 0) {
        spdlog::debug("site {}: a message from pid {} that is none of vhostd's commands reached no singleton (or was "
                      "nested too deep); dropped "
                      "(further ones are only counted, in /status messages.app_dropped)",
                      site_, sender->pid());
    }
}

void SiteBus::reply(const Worker& sender, const json::object& message) {
    const json::value* id = message.if_contains("id");
    const auto call = id && id->is_int64() ? calls_.find(static_cast<std::uint64_t>(id->as_int64())) : calls_.end();
    if (call == calls_.end() || call->second.singleton != sender.pid()) {
        spdlog::debug("site {}: a reply from pid {} matches no open call (late, or after its timeout)", site_, sender.pid());
        return;
    }
    const auto caller = call->second.caller.lock();
    json::object outcome;
    if (const auto* error = message.if_contains("error"); error && !error->is_null()) outcome["error"] = *error;
    else outcome["result"] = message.if_contains("result") ? message.at("result") : json::value();
    if (caller) answer_caller(*caller, call->second.caller_id, outcome);
    calls_.erase(call);
}

// Every call gets exactly one reply: when the real one cannot go (too large, queue full), a
// short error goes instead, past the queue cap, since the caller is waiting for it.
void SiteBus::answer_caller(Worker& caller, const json::value& id, const json::object& outcome) {
    json::object answer{{"cmd", "vhostd:reply"}, {"id", id}};
    for (const auto& [key, value] : outcome) answer[key] = value;
    const char* problem = deliver(caller, line_of(answer));
    if (!problem) {
        if (outcome.contains("result")) ++delivered_;
        return;
    }
    spdlog::warn("site {}: could not pass a reply to pid {}: {}", site_, caller.pid(), problem);
    caller.channel().send(line_of({{"cmd", "vhostd:reply"}, {"id", id}, {"error", std::string("the reply could not be delivered: ") + problem}}));
}

void SiteBus::forget(const Worker& process) {
    std::erase_if(waiting_calls_, [&](const WaitingCall& call) {
        const auto caller = call.caller.lock();
        return !caller || caller->pid() == process.pid();
    });
    for (auto it = calls_.begin(); it != calls_.end();) {
        const auto caller = it->second.caller.lock();
        if (it->second.singleton == process.pid()) {
            if (caller) answer_caller(*caller, it->second.caller_id, {{"error", "the singleton exited before replying"}});
            it = calls_.erase(it);
        } else if (!caller || caller->pid() == process.pid()) {
            it = calls_.erase(it);
        } else {
            ++it;
        }
    }
}

void SiteBus::expire(Clock::time_point now) {
    for (auto it = waiting_calls_.begin(); it != waiting_calls_.end();) {
        if (it->deadline > now) {
            ++it;
            continue;
        }
        if (const auto caller = it->caller.lock()) {
            answer_caller(*caller, id_of(it->message), {{"error", "no reply within " + std::to_string(it->timeout_ms) + " ms (the singleton did not start in time)"}});
        }
        it = waiting_calls_.erase(it);
    }
    for (auto it = calls_.begin(); it != calls_.end();) {
        if (it->second.deadline > now) {
            ++it;
            continue;
        }
        if (const auto caller = it->second.caller.lock()) {
            answer_caller(*caller, it->second.caller_id,
                          {{"error", "no reply within " + std::to_string(it->second.timeout_ms) + " ms"}});
        }
        it = calls_.erase(it);
    }
}

bool SiteBus::send_task(Worker& to, std::string_view name) {
    if (deliver(to, line_of({{"cmd", "vhostd:task"}, {"name", name}}))) return false;
    ++delivered_;
    return true;
}

}  // namespace vhostd::supervisor
