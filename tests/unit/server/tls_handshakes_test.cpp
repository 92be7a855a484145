// server/tls_handshakes: past the cap the oldest handshake in progress is dropped, and its
// socket's pending wait is cancelled.
#include "server/tls_handshakes.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

namespace vhostd::server {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// A connected socket waiting to read what its silent peer never sends, to see the wait cancelled.
struct Waiting {
    explicit Waiting(asio::io_context& io) : socket(io), peer(io) {
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        peer.connect(acceptor.local_endpoint());
        acceptor.accept(socket);
        socket.async_wait(tcp::socket::wait_read, [this](boost::system::error_code ec) { woken = ec; });
    }
    tcp::socket socket;
    tcp::socket peer;
    std::optional<boost::system::error_code> woken;
};

TEST(TlsHandshakes, PastTheCapTheOldestIsDroppedAndWoken) {
    asio::io_context io;
    TlsHandshakes handshakes;
    std::vector<std::unique_ptr<Waiting>> sockets;
    for (int i = 0; i < 4; ++i) sockets.push_back(std::make_unique<Waiting>(io));

    std::optional<TlsHandshakes::Entry> first(std::in_place, handshakes, sockets[0]->socket, 2);
    TlsHandshakes::Entry second(handshakes, sockets[1]->socket, 2);
    EXPECT_EQ(handshakes.in_progress(), 2u);
    {
        TlsHandshakes::Entry third(handshakes, sockets[2]->socket, 2);
        EXPECT_TRUE(first->dropped());
        EXPECT_FALSE(second.dropped());
        EXPECT_EQ(handshakes.in_progress(), 2u);
        io.poll();
        EXPECT_EQ(sockets[0]->woken, asio::error::operation_aborted);
        EXPECT_FALSE(sockets[1]->woken);
    }
    // The third finished: room for a fourth without dropping the second.
    EXPECT_EQ(handshakes.in_progress(), 1u);
    TlsHandshakes::Entry fourth(handshakes, sockets[3]->socket, 2);
    EXPECT_FALSE(second.dropped());
    first.reset();  // a dropped entry ends without touching the list
    EXPECT_EQ(handshakes.in_progress(), 2u);
}

TEST(TlsHandshakes, ALowerCapAfterAReloadDropsAsManyAsNeeded) {
    asio::io_context io;
    TlsHandshakes handshakes;
    std::vector<std::unique_ptr<Waiting>> sockets;
    for (int i = 0; i < 4; ++i) sockets.push_back(std::make_unique<Waiting>(io));
    TlsHandshakes::Entry a(handshakes, sockets[0]->socket, 10);
    TlsHandshakes::Entry b(handshakes, sockets[1]->socket, 10);
    TlsHandshakes::Entry c(handshakes, sockets[2]->socket, 10);
    TlsHandshakes::Entry d(handshakes, sockets[3]->socket, 2);
    EXPECT_TRUE(a.dropped());
    EXPECT_TRUE(b.dropped());
    EXPECT_FALSE(c.dropped());
    EXPECT_EQ(handshakes.in_progress(), 2u);
}

}  // namespace
}  // namespace vhostd::server
