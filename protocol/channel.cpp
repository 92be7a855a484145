#include "protocol/channel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <array>
#include <cstring>
#include <vector>

namespace vhostd::protocol {

namespace asio = boost::asio;

namespace {

// A control-message buffer aligned for cmsghdr by its type. (alignas on a plain char array
// is not enough: GCC 12 drops it for a local that lives in a coroutine frame, which UBSan
// caught as a misaligned cmsghdr.)
template <std::size_t Size>
union ControlBuffer {
    std::size_t alignment;  // cmsghdr's (whose flexible array cannot sit in a union)
    char bytes[Size];
};
static_assert(alignof(ControlBuffer<64>) >= alignof(cmsghdr));

constexpr int max_fds_per_read = 16;

boost::system::error_code last_error() { return {errno, boost::system::system_category()}; }

}  // namespace

ssize_t send_with_fd(int socket, std::string_view line, int fd, int flags) {
    ControlBuffer<CMSG_SPACE(sizeof(int))> control{};
    iovec iov{const_cast<char*>(line.data()), line.size()};
    msghdr header{};
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control.bytes;
    header.msg_controllen = sizeof control.bytes;
    cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    ssize_t sent;
    do {
        sent = ::sendmsg(socket, &header, MSG_NOSIGNAL | flags);
    } while (sent < 0 && errno == EINTR);
    return sent;
}

Channel::Channel(asio::any_io_executor executor, FileDescriptor socket)
    : socket_(std::move(executor), socket.release()) {}

boost::system::error_code Channel::write_some_now(std::string_view& rest) {
    while (!rest.empty()) {
        const ssize_t sent = ::send(socket_.native_handle(), rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR) continue;
            return last_error();
        }
        rest.remove_prefix(static_cast<std::size_t>(sent));
    }
    return {};
}

boost::system::error_code Channel::send(std::string_view line, int fd) {
    if (!socket_.is_open()) return asio::error::bad_descriptor;
    if (fd < 0) {
        if (!outbox_.empty()) {
            outbox_.append(line);
            return {};
        }
        std::string_view rest = line;
        boost::system::error_code ec = write_some_now(rest);
        if (ec && ec != boost::system::errc::resource_unavailable_try_again && ec != boost::system::errc::operation_would_block) return ec;
        if (!rest.empty()) {
            outbox_.assign(rest);
            if (!flushing_) asio::co_spawn(socket_.get_executor(), flush_outbox(), asio::detached);
        }
        return {};
    }

    // A line with an fd must not overtake lines still waiting in the outbox.
    if (!outbox_.empty()) return boost::system::errc::make_error_code(boost::system::errc::operation_would_block);
    const ssize_t sent = send_with_fd(socket_.native_handle(), line, fd, MSG_DONTWAIT);
    if (sent < 0) return last_error();
    // The fd went with the first byte; the rest of the line (rare: a nearly full socket) follows.
    if (static_cast<std::size_t>(sent) < line.size()) {
        outbox_.assign(line.substr(static_cast<std::size_t>(sent)));
        if (!flushing_) asio::co_spawn(socket_.get_executor(), flush_outbox(), asio::detached);
    }
    return {};
}

asio::awaitable<void> Channel::flush_outbox() {
    flushing_ = true;
    while (!outbox_.empty() && socket_.is_open()) {
        auto [wait_error] = co_await socket_.async_wait(asio::posix::descriptor_base::wait_write, asio::as_tuple(asio::use_awaitable));
        // Aborted: the channel was closed and may already be destroyed; touch nothing.
        if (wait_error) co_return;
        std::string_view rest = outbox_;
        boost::system::error_code ec = write_some_now(rest);
        outbox_.erase(0, outbox_.size() - rest.size());
        if (ec && ec != boost::system::errc::resource_unavailable_try_again && ec != boost::system::errc::operation_would_block) break;
    }
    flushing_ = false;
}

asio::awaitable<boost::system::error_code> Channel::receive(IncomingMessage& out) {
    std::array<char, 16 * 1024> data;
    ControlBuffer<CMSG_SPACE(sizeof(int) * max_fds_per_read)> control;
    for (;;) {
        switch (decoder_.next(out)) {
            case MessageDecoder::Status::message: co_return boost::system::error_code{};
            case MessageDecoder::Status::error:
                protocol_error_ = decoder_.error();
                co_return boost::system::errc::make_error_code(boost::system::errc::protocol_error);
            case MessageDecoder::Status::need_more: break;
        }
        if (!socket_.is_open()) co_return asio::error::bad_descriptor;
        if (!takes_fds_) {
            auto [read_error, read] = co_await socket_.async_read_some(asio::buffer(data), asio::as_tuple(asio::use_awaitable));
            if (read_error) co_return read_error;  // eof when the peer closed
            decoder_.feed(std::string_view(data.data(), read));
            continue;
        }

        iovec iov{data.data(), data.size()};
        msghdr header{};
        header.msg_iov = &iov;
        header.msg_iovlen = 1;
        header.msg_control = control.bytes;
        header.msg_controllen = sizeof control.bytes;
        const ssize_t received = ::recvmsg(socket_.native_handle(), &header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (received < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) co_return last_error();
            auto [wait_error] = co_await socket_.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(asio::use_awaitable));
            if (wait_error) co_return wait_error;
            continue;
        }

        std::vector<int> fds;
        for (cmsghdr* cmsg = CMSG_FIRSTHDR(&header); cmsg != nullptr; cmsg = CMSG_NXTHDR(&header, cmsg)) {
            if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
            const std::size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < count; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
                fds.push_back(fd);
            }
        }
        decoder_.feed(std::string_view(data.data(), static_cast<std::size_t>(received)), fds);
        // Truncated control data means fds were lost on the way: the stream can no longer
        // be paired with its handles.
        if (header.msg_flags & MSG_CTRUNC) {
            protocol_error_ = "file descriptors truncated (MSG_CTRUNC)";
            co_return boost::system::errc::make_error_code(boost::system::errc::protocol_error);
        }
        if (received == 0) co_return asio::error::eof;
    }
}

void Channel::close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    outbox_.clear();
}

}  // namespace vhostd::protocol
