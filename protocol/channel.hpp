// One end of a vhostd <-> worker channel: a Unix stream socket carrying JSON lines, with
// connections attached as SCM_RIGHTS. Used by the supervisor and by the worker SDK.
// Not thread-safe: use it from one strand.
#pragma once

#include "protocol/file_descriptor.hpp"
#include "protocol/message_decoder.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <sys/types.h>

#include <string>
#include <string_view>
#include <boost/system/error_code.hpp>

namespace vhostd::protocol {

// One sendmsg of `line` with `fd` attached to its first byte (`flags` beside MSG_NOSIGNAL):
// the bytes sent, or -1 with errno. The fd stays the caller's; the kernel passes a duplicate.
ssize_t send_with_fd(int socket, std::string_view line, int fd, int flags);

class Channel {
public:
    Channel(boost::asio::any_io_executor executor, FileDescriptor socket);

    // Sends a whole line now, never blocking. With `fd` (which stays the caller's: the kernel
    // passes a duplicate) the line goes out in one sendmsg or not at all: a full socket or a
    // broken peer is an error and the caller still owns the connection. Without an fd, a line
    // the socket cannot take yet waits here and goes out in order.
    boost::system::error_code send(std::string_view line, int fd = -1);

    // Waits for the next message. Errors: boost::asio::error::eof when the peer closed,
    // boost::system::errc::protocol_error when it sent garbage (see protocol_error()), or the socket's.
    boost::asio::awaitable<boost::system::error_code> receive(IncomingMessage& out);
    const std::string& protocol_error() const { return protocol_error_; }
    // vhostd's end of a worker's channel. JSON that is no command is the app's own message
    // (IncomingMessage::app), not a protocol error; a worker's end keeps refusing it. And
    // vhostd takes no descriptor from a worker (an app's handle has nowhere to go): the
    // kernel closes any that come, and reads go through Asio's reactor, whose speculative
    // reads cost one system call per wake-up, where recvmsg with a control buffer and a
    // wait cost three (the read, the read that says EAGAIN, and the wait's epoll_ctl).
    void serve_vhostd_end() {
        decoder_.accept_app_messages();
        decoder_.expect_no_fds();
        takes_fds_ = false;
    }

    void close();
    bool is_open() const { return socket_.is_open(); }
    // Bytes of lines accepted by send() that the socket has not taken yet.
    std::size_t queued_bytes() const { return outbox_.size(); }

private:
    boost::asio::awaitable<void> flush_outbox();
    boost::system::error_code write_some_now(std::string_view& rest);

    boost::asio::posix::stream_descriptor socket_;
    MessageDecoder decoder_;
    std::string protocol_error_;
    std::string outbox_;     // lines that did not fit in the socket yet
    bool flushing_ = false;
    bool takes_fds_ = true;
};

}  // namespace vhostd::protocol
