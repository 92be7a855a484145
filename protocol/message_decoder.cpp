#include "protocol/message_decoder.hpp"

#include "protocol/message.hpp"

#include <boost/json/parse.hpp>

namespace vhostd::protocol {

void MessageDecoder::feed(std::string_view bytes, std::span<const int> fds) {
    const std::uint64_t begin = buffer_offset_ + buffer_.size();
    for (int fd : fds) fds_.push_back({FileDescriptor(fd), begin, begin + bytes.size()});
    buffer_.append(bytes);
}

MessageDecoder::Status MessageDecoder::next(IncomingMessage& out) {
    if (!error_.empty()) return Status::error;
    const std::size_t newline = buffer_.find('\n', scanned_);
    if (newline == std::string::npos) {
        scanned_ = buffer_.size();
        if (buffer_.size() > max_message_size) return fail("message longer than 64 KiB");
        return Status::need_more;
    }
    if (newline > max_message_size) return fail("message longer than 64 KiB");
    const std::uint64_t line_begin = buffer_offset_;
    const std::string_view line = std::string_view(buffer_).substr(0, newline);
    auto message = decode_message(line);
    std::optional<boost::json::value> app;
    if (!message) {
        if (!accept_app_messages_) return fail("a line that is not a JSON object with a \"cmd\"");
        // Any other JSON is the app's own (Node's process.send): only what is not JSON breaks
        // the channel.
        boost::json::error_code ec;
        app = boost::json::parse(line, ec);
        if (ec) return fail("a line that is not JSON");
    }
    buffer_.erase(0, newline + 1);
    buffer_offset_ += newline + 1;
    scanned_ = 0;

    // fds that arrived wholly before this line belonged to no handle: drop them.
    while (!fds_.empty() && fds_.front().chunk_end <= line_begin) fds_.pop_front();

    out.fd.reset();
    out.app = std::move(app);
    if (out.app) {
        out.message.clear();
        return Status::message;
    }
    out.message = std::move(*message);
    if (command_of(out.message) == command::handle) {
        if (fds_.empty() || fds_.front().chunk_begin > line_begin) return fail("NODE_HANDLE without a file descriptor");
        out.fd = std::move(fds_.front().fd);
        fds_.pop_front();
    }
    return Status::message;
}

MessageDecoder::Status MessageDecoder::fail(std::string reason) {
    error_ = std::move(reason);
    return Status::error;
}

}  // namespace vhostd::protocol
