// One public listening socket and the accept loops on it.
#pragma once

#include "conf/config.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace vhostd::server {

class Front;

class Listener {
public:
    // Binds now; throws std::runtime_error naming the address on failure.
    Listener(Front& front, const conf::Listener& config);

    // Several loops let several front threads accept at once.
    void start(unsigned accept_loops);
    void close();

private:
    boost::asio::awaitable<void> accept_loop();

    Front& front_;
    std::string address_;
    boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace vhostd::server
