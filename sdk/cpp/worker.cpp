#include "sdk/cpp/worker.hpp"

#include "protocol/environment.hpp"
#include "protocol/socket_family.hpp"
#include "sdk/cpp/channel_fields.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <fcntl.h>

#include <cstdlib>
#include <iostream>
#include <stdexcept>

namespace vhostd::sdk {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::string env_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : fallback;
}

protocol::FileDescriptor channel_from_environment() {
    const char* value = std::getenv(protocol::env_channel_fd);
    if (value == nullptr) throw std::runtime_error(std::string(protocol::env_channel_fd) + " is not set: not started by vhostd");
    const int fd = std::atoi(value);
    // Programs the worker starts must not inherit the channel (nor pose as its worker).
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    return protocol::FileDescriptor(fd);
}

}  // namespace

Worker::Lease::Lease(std::shared_ptr<Worker*> owner) : owner_(std::move(owner)) {}

Worker::Lease::~Lease() {
    if (owner_ && *owner_ != nullptr) (*owner_)->connection_ended();
}

bool Worker::started_by_vhostd() { return std::getenv(protocol::env_channel_fd) != nullptr; }

bool Worker::is_singleton() { return env_or(protocol::env_role, "worker") == "singleton"; }

struct Worker::PendingCall {
    explicit PendingCall(asio::io_context& io) : wake(io) {}
    asio::steady_timer wake;
    std::optional<boost::json::object> outcome;
};

namespace {

std::string line_of(const boost::json::object& message) { return boost::json::serialize(message) + "\n"; }

}  // namespace

void Worker::send(const Recipient& to, boost::json::value data) {
    channel_.send(line_of({{"cmd", "vhostd:send"}, {"to", to.address}, {"data", std::move(data)}}));
}

asio::awaitable<boost::json::value> Worker::call(std::string method, boost::json::value args, std::chrono::milliseconds timeout) {
    const std::uint64_t id = next_call_id_++;
    auto pending = std::make_shared<PendingCall>(io_);
    calls_[id] = pending;
    channel_.send(line_of({{"cmd", "vhostd:call"}, {"id", id}, {"method", method}, {"args", std::move(args)},
                           {"timeoutMs", timeout.count()}}));
    // vhostd answers within `timeout` in every case; the margin covers a vhostd that is gone.
    pending->wake.expires_after(timeout + std::chrono::seconds(1));
    co_await pending->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    calls_.erase(id);
    if (!pending->outcome) throw CallError(method + ": no reply within " + std::to_string(timeout.count()) + " ms");
    ReplyOutcome outcome = reply_outcome_of(*pending->outcome);
    if (outcome.error) throw CallError(method + ": " + *outcome.error);
    co_return std::move(outcome.result);
}

void Worker::answer_call(const boost::json::object& message) {
    const auto id = call_id_of(message);
    if (!id) return;  // nothing to answer to
    boost::json::object reply{{"cmd", "vhostd:reply"}, {"id", *id}};
    const auto* method = message.if_contains("method");
    const auto handler = method && method->is_string() ? call_handlers_.find(std::string(method->as_string())) : call_handlers_.end();
    if (handler == call_handlers_.end()) {
        reply["error"] = "no such method: " + (method && method->is_string() ? std::string(method->as_string()) : std::string("?"));
    } else {
        try {
            const auto* args = message.if_contains("args");
            reply["result"] = handler->second(args ? *args : boost::json::value(), sender_of(message));
        } catch (const std::exception& e) {
            reply["error"] = e.what();
        }
    }
    channel_.send(line_of(reply));
}

void Worker::handle_bus(std::string_view command, const boost::json::object& message) {
    if (command == "vhostd:message") {
        if (on_message_) on_message_(data_of(message), sender_of(message));
    } else if (command == "vhostd:call") {
        answer_call(message);
    } else if (command == "vhostd:reply") {
        const auto id = call_id_of(message);
        const auto call = id ? calls_.find(static_cast<std::uint64_t>(*id)) : calls_.end();
        if (call == calls_.end()) return;  // after our own timeout
        call->second->outcome = message;
        call->second->wake.cancel();
    } else if (command == "vhostd:undeliverable") {
        if (on_undeliverable_) on_undeliverable_(undeliverable_reason_of(message));
    } else if (command == "vhostd:task") {
        if (const auto name = task_name_of(message); on_task_ && name) on_task_(*name);
    }
}

Worker::Worker(asio::io_context& io, ConnectionHandler on_connection)
    : io_(io),
      on_connection_(std::move(on_connection)),
      channel_(io.get_executor(), channel_from_environment()),
      heartbeat_timer_(io),
      heartbeat_interval_(heartbeat_interval(std::getenv(protocol::env_heartbeat_interval_ms))),
      site_(env_or(protocol::env_site, "")),
      self_(std::make_shared<Worker*>(this)) {
    asio::co_spawn(io_, receive_loop(), asio::detached);
}

Worker::~Worker() { *self_ = nullptr; }

void Worker::ready() {
    channel_.send(protocol::encode_command(protocol::command::ready));
    asio::co_spawn(io_, heartbeat_loop(), asio::detached);
}

asio::awaitable<void> Worker::receive_loop() {
    for (;;) {
        protocol::IncomingMessage incoming;
        const boost::system::error_code ec = co_await channel_.receive(incoming);
        if (ec) {
            if (ec != asio::error::operation_aborted && !finished_) {
                if (ec != asio::error::eof) std::cerr << "vhostd channel: " << ec.message() << " " << channel_.protocol_error() << "\n";
                start_draining();  // vhostd is gone: finish what we have and exit
            }
            co_return;
        }
        const std::string_view command = protocol::command_of(incoming.message);
        if (command == protocol::command::handle) {
            // Acknowledge first: from here on vhostd must not give this connection to another worker.
            channel_.send(protocol::encode_command(protocol::command::handle_ack));
            auto info = protocol::connection_info_of(incoming.message);
            tcp::socket socket(io_);
            boost::system::error_code assign_error;
            socket.assign(protocol::tcp_protocol_of(incoming.fd.get()), incoming.fd.get(), assign_error);
            if (assign_error || !info) continue;  // incoming.fd still owns (and closes) it
            incoming.fd.release();
            ++active_;
            on_connection_(std::move(socket), std::move(*info), Lease(self_));
        } else if (command == protocol::command::drain) {
            start_draining();
        } else {
            handle_bus(command, incoming.message);  // ignores what it does not know
        }
    }
}

asio::awaitable<void> Worker::heartbeat_loop() {
    while (!finished_) {
        channel_.send(protocol::encode_heartbeat({active_, requests_, websockets_}));
        heartbeat_timer_.expires_after(heartbeat_interval_);
        auto [ec] = co_await heartbeat_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
    }
}

void Worker::start_draining() {
    if (draining_) return;
    draining_ = true;
    if (on_drain_) on_drain_();
    finish_if_idle();
}

void Worker::connection_ended() {
    --active_;
    finish_if_idle();
}

void Worker::finish_if_idle() {
    if (!draining_ || active_ != 0 || finished_) return;
    finished_ = true;
    heartbeat_timer_.cancel();
    channel_.close();
    io_.stop();
}

}  // namespace vhostd::sdk
