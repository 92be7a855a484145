#include "sdk/cpp/channel_fields.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <limits>

namespace vhostd::sdk {

namespace json = boost::json;

namespace {

constexpr std::chrono::milliseconds default_heartbeat_interval{1000};
constexpr std::chrono::milliseconds min_heartbeat_interval{10};
constexpr std::int64_t max_heartbeat_interval_ms = std::numeric_limits<std::int32_t>::max();  // what every SDK's timer holds

const json::value* member(const json::object& object, std::string_view name) { return object.if_contains(name); }

}  // namespace

Sender sender_of(const json::object& message) {
    Sender sender;
    const json::value* from = member(message, "from");
    if (from == nullptr || !from->is_object()) return sender;
    const json::object& fields = from->get_object();
    if (const auto* role = member(fields, "role"); role && role->is_string()) sender.role = role->get_string();
    if (const auto* slot = member(fields, "slot"); slot && slot->is_int64() && slot->get_int64() >= 0 &&
                                                   slot->get_int64() <= std::numeric_limits<unsigned>::max()) {
        sender.slot = static_cast<unsigned>(slot->get_int64());
    }
    if (const auto* pid = member(fields, "pid"); pid && pid->is_int64() && pid->get_int64() > 0 &&
                                                 pid->get_int64() <= std::numeric_limits<int>::max()) {
        sender.pid = static_cast<int>(pid->get_int64());
    }
    return sender;
}

json::value data_of(const json::object& message) {
    const json::value* data = member(message, "data");
    return data != nullptr ? *data : json::value();
}

std::optional<std::int64_t> call_id_of(const json::object& message) {
    const json::value* id = member(message, "id");
    if (id == nullptr || !id->is_int64()) return std::nullopt;
    return id->get_int64();
}

ReplyOutcome reply_outcome_of(const json::object& reply) {
    ReplyOutcome outcome;
    if (const json::value* error = member(reply, "error"); error != nullptr && !error->is_null()) {
        outcome.error = error->is_string() ? std::string(error->get_string()) : json::serialize(*error);
        return outcome;
    }
    if (const json::value* result = member(reply, "result")) outcome.result = *result;
    return outcome;
}

std::optional<std::string> task_name_of(const json::object& message) {
    const json::value* name = member(message, "name");
    if (name == nullptr || !name->is_string()) return std::nullopt;
    return std::string(name->get_string());
}

std::string undeliverable_reason_of(const json::object& message) {
    const json::value* reason = member(message, "reason");
    return reason != nullptr && reason->is_string() ? std::string(reason->get_string()) : "undeliverable";
}

std::chrono::milliseconds heartbeat_interval(const char* text) {
    if (text == nullptr || *text == '\0') return default_heartbeat_interval;
    std::int64_t value = 0;
    for (const char* c = text; *c != '\0'; ++c) {
        if (*c < '0' || *c > '9') return default_heartbeat_interval;
        value = value * 10 + (*c - '0');
        if (value > max_heartbeat_interval_ms) return default_heartbeat_interval;  // also stops an overflow
    }
    if (value == 0) return default_heartbeat_interval;
    return std::max(std::chrono::milliseconds(value), min_heartbeat_interval);
}

}  // namespace vhostd::sdk
