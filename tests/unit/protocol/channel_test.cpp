#include "protocol/channel.hpp"

#include "protocol/message.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace protocol = vhostd::protocol;

namespace {

struct ChannelPair {
    asio::io_context io;
    std::unique_ptr<protocol::Channel> front;
    std::unique_ptr<protocol::Channel> worker;

    ChannelPair() {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        front = std::make_unique<protocol::Channel>(io.get_executor(), protocol::FileDescriptor(fds[0]));
        worker = std::make_unique<protocol::Channel>(io.get_executor(), protocol::FileDescriptor(fds[1]));
    }

    boost::system::error_code receive(protocol::Channel& channel, protocol::IncomingMessage& out) {
        auto future = asio::co_spawn(io, channel.receive(out), asio::use_future);
        io.restart();
        io.run_for(std::chrono::seconds(5));
        return future.get();
    }
};

}  // namespace

TEST(Channel, PassesAConnectedSocketWithItsUnreadBytes) {
    ChannelPair pair;
    int client[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, client), 0);
    ASSERT_EQ(::write(client[0], "GET / HTTP/1.1\r\n", 16), 16);

    protocol::ConnectionInfo info;
    info.id = 9;
    ASSERT_FALSE(pair.front->send(protocol::encode_handle(info), client[1]));
    ::close(client[1]);  // the worker now holds the only other end

    protocol::IncomingMessage incoming;
    ASSERT_FALSE(pair.receive(*pair.worker, incoming));
    EXPECT_EQ(protocol::command_of(incoming.message), "NODE_HANDLE");
    ASSERT_TRUE(incoming.fd);
    char bytes[16];
    ASSERT_EQ(::read(incoming.fd.get(), bytes, sizeof bytes), 16);
    EXPECT_EQ(std::string(bytes, 16), "GET / HTTP/1.1\r\n");
    ::close(client[0]);
}

// vhostd's end takes no descriptors: an app's process.send(message, handle) arrives as a
// NODE_HANDLE line alone, the kernel closes the descriptor (the client sees the end of its
// stream), and the lines around it read as usual.
TEST(Channel, TheVhostdEndReadsLinesAndLetsTheKernelCloseDescriptors) {
    ChannelPair pair;
    pair.front->serve_vhostd_end();
    int client[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, client), 0);
    ASSERT_FALSE(pair.worker->send(protocol::encode_command(protocol::command::handle_ack)));
    ASSERT_FALSE(pair.worker->send(protocol::encode_handle({}), client[1]));
    ::close(client[1]);
    ASSERT_FALSE(pair.worker->send(protocol::encode_command(protocol::command::handle_ack)));

    for (const std::string_view expected : {protocol::command::handle_ack, protocol::command::handle, protocol::command::handle_ack}) {
        protocol::IncomingMessage incoming;
        ASSERT_FALSE(pair.receive(*pair.front, incoming)) << expected;
        EXPECT_EQ(protocol::command_of(incoming.message), expected);
        EXPECT_FALSE(incoming.fd);
    }
    char byte;
    EXPECT_EQ(::read(client[0], &byte, 1), 0) << "the descriptor went nowhere: its last copy was closed";
    ::close(client[0]);

    pair.worker->close();
    protocol::IncomingMessage after;
    EXPECT_EQ(pair.receive(*pair.front, after), asio::error::eof);
}

TEST(Channel, ManyHandlesArriveInOrderWithTheirOwnFds) {
    ChannelPair pair;
    std::vector<int> ours;
    for (std::uint64_t id = 1; id <= 50; ++id) {
        int fds[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ASSERT_EQ(::write(fds[0], &id, sizeof id), static_cast<ssize_t>(sizeof id));
        protocol::ConnectionInfo info;
        info.id = id;
        ASSERT_FALSE(pair.front->send(protocol::encode_handle(info), fds[1]));
        ::close(fds[1]);
        ours.push_back(fds[0]);
    }
    for (std::uint64_t id = 1; id <= 50; ++id) {
        protocol::IncomingMessage incoming;
        ASSERT_FALSE(pair.receive(*pair.worker, incoming));
        EXPECT_EQ(protocol::connection_info_of(incoming.message)->id, id);
        std::uint64_t written = 0;
        ASSERT_EQ(::read(incoming.fd.get(), &written, sizeof written), static_cast<ssize_t>(sizeof written));
        EXPECT_EQ(written, id) << "handle " << id << " got another connection's fd";
    }
    for (int fd : ours) ::close(fd);
}

TEST(Channel, ReportsEndOfStreamAndProtocolErrors) {
    ChannelPair pair;
    ASSERT_FALSE(pair.worker->send("garbage\n"));
    protocol::IncomingMessage incoming;
    EXPECT_EQ(pair.receive(*pair.front, incoming), boost::system::errc::protocol_error);
    EXPECT_FALSE(pair.front->protocol_error().empty());

    pair.front->close();
    EXPECT_EQ(pair.receive(*pair.worker, incoming), asio::error::eof);
}

TEST(Channel, SendingAnFdToAClosedPeerFailsAndLeavesItWithTheCaller) {
    ChannelPair pair;
    pair.worker->close();
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    EXPECT_TRUE(pair.front->send(protocol::encode_handle({}), fds[1]));
    EXPECT_NE(::fcntl(fds[1], F_GETFD), -1) << "the caller still owns the fd";
    ::close(fds[0]);
    ::close(fds[1]);
}
