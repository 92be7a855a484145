// A connection from its accept until it leaves the front: what is known about it, and the
// two ways out (handed to a site's worker, or answered by the front itself), shared by the
// plain-HTTP and the TLS paths.
#pragma once

#include "protocol/file_descriptor.hpp"
#include "protocol/message.hpp"
#include "server/client_counts.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace vhostd::server {

class Front;
struct FrontThread;
struct Routing;

struct Arrival {
    Front& front;
    FrontThread& thread;
    // The client: the TCP peer, or the address a trusted PROXY protocol header gave.
    boost::asio::ip::tcp::endpoint remote;
    boost::asio::ip::tcp transport;  // the family of the socket itself, for Asio
    std::optional<boost::asio::ip::tcp::endpoint> local;  // unset when the listener is bound to a wildcard address
    std::chrono::steady_clock::time_point accepted_at;
    std::shared_ptr<const Routing> routing;  // one version for the whole connection
};

// "127.0.0.1:40218", for log lines.
std::string describe(const boost::asio::ip::tcp::endpoint& endpoint);

// A connection that a cap in ClientCounts refused: counted, logged (one line per 10 s per
// front thread, with the count held back) and closed. A plain HTTP one (`plain_fd`) gets 429
// (a per-client cap) or 503 (the total) first, in one send that never waits: a flood must not
// cost the front a coroutine per refusal. A TLS one is closed: no HTTP before a handshake.
void refuse(const Arrival& arrival, ClientCounts::Refusal refusal, int plain_fd = -1);

// Counts (and access-logs) an answer the front gives itself.
void note_answer(const Arrival& arrival, int status, std::string_view host = {});

// Answers in plain HTTP (`response`, or error_response(status)) and closes without a reset.
void answer(const Arrival& arrival, protocol::FileDescriptor fd, int status, std::string_view host = {});
void answer_with(const Arrival& arrival, protocol::FileDescriptor fd, std::string response);

// The ConnectionInfo for a connection routed to `site` on `host`.
protocol::ConnectionInfo connection_info(const Arrival& arrival, int fd, std::size_t site, std::string host);

// The completion handler of a connection's coroutine: an exception that escaped it is
// logged (the connection itself is gone with the coroutine frame).
void log_if_failed(std::exception_ptr error);

// Hands `fd`, whose first unread bytes are `head`, to the site named in `info` and counts it.
// If no worker can take it, the dispatcher has it answered 503 on this connection's thread.
void hand_over(const Arrival& arrival, protocol::FileDescriptor fd, protocol::ConnectionInfo info, std::string head);

}  // namespace vhostd::server
