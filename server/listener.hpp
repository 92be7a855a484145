// One public address, with an accepting socket on every front thread (SO_REUSEPORT): the
// kernel spreads new connections over the threads, and each stays where it was accepted.
#pragma once

#include "conf/config.hpp"
#include "protocol/file_descriptor.hpp"
#include "server/front_thread.hpp"
#include "server/log_throttle.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

namespace vhostd::server {

class Front;

class Listener {
public:
    // Binds on every thread now; throws std::runtime_error naming the address on failure.
    // With `inherited` sockets (socket activation, an upgrade) it binds nothing: every
    // thread accepts on each of them, so that none is left with connections no one takes.
    Listener(Front& front, const conf::Listener& config, unsigned backlog, std::deque<FrontThread>& threads,
             std::vector<protocol::FileDescriptor> inherited = {});

    void start();
    // Thread-safe: each socket is closed on its own thread.
    void close();
    // A reload may change how an address that stays open is served (tls, proxy_protocol,
    // proxy_from). Any thread.
    void set_config(const conf::Listener& config) { config_.store(std::make_shared<const conf::Listener>(config)); }
    // One fd of each distinct listening socket, to pass to the vhostd that replaces this one.
    std::vector<int> sockets() const;

private:
    struct Acceptor {
        FrontThread& thread;
        boost::asio::ip::tcp::acceptor socket;
        std::optional<boost::asio::ip::tcp::endpoint> local;  // unset for a wildcard address
        LogThrottle accept_failures{std::chrono::seconds(10)};  // EMFILE would log 10 lines a second
    };
    boost::asio::awaitable<void> accept_loop(Acceptor& acceptor);

    Front& front_;
    std::string address_;
    std::atomic<std::shared_ptr<const conf::Listener>> config_;
    std::vector<std::unique_ptr<Acceptor>> acceptors_;
    std::size_t distinct_sockets_ = 0;  // the first ones of acceptors_; the rest are duplicates
};

}  // namespace vhostd::server
