// Turns the byte stream of a channel, with the fds that arrived beside it, back into messages.
// Pure: the caller does the recvmsg and feeds what it got.
//
// A sender passes each fd in the same sendmsg as the first bytes of its NODE_HANDLE line, so
// the fd arrives no later than the chunk holding that line's first byte. The decoder pairs
// each NODE_HANDLE with the fd that arrived in the chunk its first byte came in; an fd that
// belongs to no handle is closed, never handed to a later message by mistake.
#pragma once

#include "protocol/file_descriptor.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vhostd::protocol {

struct IncomingMessage {
    boost::json::object message;            // a command; empty for an app's own message
    std::optional<boost::json::value> app;  // JSON but no command (with accept_app_messages)
    bool unreadable_app = false;            // such a line, nested too deep to pass on
    FileDescriptor fd;                      // set for NODE_HANDLE
};

class MessageDecoder {
public:
    enum class Status { message, need_more, error };

    // Takes ownership of `fds`, which arrived with `bytes` in one recvmsg.
    void feed(std::string_view bytes, std::span<const int> fds = {});

    // The next complete message; `error()` says why on Status::error, after which the
    // channel is unusable.
    Status next(IncomingMessage& out);
    // From here on, JSON that is no command decodes as the app's own message instead of an
    // error (vhostd reading a worker, whose app may process.send() anything).
    void accept_app_messages() { accept_app_messages_ = true; }
    // The reader takes no descriptors (vhostd's end: the kernel closes any a worker's app
    // sends with process.send(message, handle)): a NODE_HANDLE then comes without one.
    void expect_no_fds() { expect_no_fds_ = true; }
    const std::string& error() const { return error_; }

private:
    bool accept_app_messages_ = false;
    bool expect_no_fds_ = false;
    struct ArrivedFd {
        FileDescriptor fd;
        std::uint64_t chunk_begin;  // stream offsets of the chunk it arrived with
        std::uint64_t chunk_end;
    };

    Status fail(std::string reason);

    std::string buffer_;
    std::uint64_t buffer_offset_ = 0;  // stream offset of buffer_[0]
    std::size_t scanned_ = 0;          // buffer_ bytes known to hold no newline
    std::deque<ArrivedFd> fds_;
    std::string error_;
};

}  // namespace vhostd::protocol
