// What the C++ SDK reads from vhostd's messages besides NODE_HANDLE's metadata
// (protocol/message.hpp), and the heartbeat interval of its environment. Pure; the
// vectors in tests/vectors/channel.json are the cases all three SDKs pass.
#pragma once

#include "sdk/cpp/worker.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace vhostd::sdk {

// The `from` of a vhostd:message or vhostd:call; each member its default when missing.
Sender sender_of(const boost::json::object& message);

// The `data` of a vhostd:message, null when it has none.
boost::json::value data_of(const boost::json::object& message);

// The id of a vhostd:call or vhostd:reply; nullopt when it has no integer one to answer or
// settle (a call without one gets no reply).
std::optional<std::int64_t> call_id_of(const boost::json::object& message);

// A vhostd:reply: an error (a string; a missing or null one means success), else the result.
struct ReplyOutcome {
    std::optional<std::string> error;
    boost::json::value result;  // null when the reply has none
};
ReplyOutcome reply_outcome_of(const boost::json::object& reply);

// The task a vhostd:task runs; nullopt (the message is ignored) without a string name.
std::optional<std::string> task_name_of(const boost::json::object& message);

// The reason of a vhostd:undeliverable, "undeliverable" without a string one.
std::string undeliverable_reason_of(const boost::json::object& message);

// VHOSTD_HEARTBEAT_INTERVAL_MS (nullptr: unset) as docs/protocol.md section 2 reads it:
// ASCII digits only; missing, anything else, 0 or above 2^31-1 gives 1000; 1 to 9 give 10.
std::chrono::milliseconds heartbeat_interval(const char* text);

}  // namespace vhostd::sdk
