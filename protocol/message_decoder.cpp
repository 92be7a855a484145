#include "protocol/message_decoder.hpp"

#include "protocol/message.hpp"

#include <boost/json/parse.hpp>

#include <string>

namespace vhostd::protocol {

namespace {

const boost::json::parse_options app_parse_options{.max_depth = 1024};

// JSON.stringify writes a lone UTF-16 surrogate (a cut emoji) as an escape, "\ud83d", which
// JSON's grammar allows and Boost.JSON refuses: each such escape becomes U+FFFD, as a
// decoder of UTF-16 would read it. Returns false when there is none.
bool replace_lone_surrogates(std::string& text) {
    const auto surrogate_at = [&](std::size_t i, unsigned low, unsigned high) {
        if (i + 6 > text.size() || text[i] != '\\' || (text[i + 1] != 'u' && text[i + 1] != 'U')) return false;
        unsigned value = 0;
        for (std::size_t k = i + 2; k < i + 6; ++k) {
            const char c = text[k];
            const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (digit < 0) return false;
            value = value * 16 + static_cast<unsigned>(digit);
        }
        return value >= low && value <= high;
    };
    bool replaced = false;
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        if (text[i] != '\\') continue;
        if (surrogate_at(i, 0xD800, 0xDBFF) && surrogate_at(i + 6, 0xDC00, 0xDFFF)) {
            i += 11;  // a pair: keep it
        } else if (surrogate_at(i, 0xD800, 0xDFFF)) {
            text.replace(i, 6, "\\ufffd");
            replaced = true;
            i += 5;
        } else {
            ++i;  // any other escape, "\\" included
        }
    }
    return replaced;
}

}  // namespace

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
    bool unreadable = false;
    if (!message) {
        if (!accept_app_messages_) return fail("a line that is not a JSON object with a \"cmd\"");
        // Any other JSON is the app's own (Node's process.send): only what is not JSON breaks
        // the channel. Nested too deep to pass on, it is still the app's, dropped.
        boost::json::error_code ec;
        app = boost::json::parse(line, ec, {}, app_parse_options);
        if (std::string mended(line); ec && ec != boost::json::error::too_deep && replace_lone_surrogates(mended)) {
            app = boost::json::parse(mended, ec, {}, app_parse_options);
        }
        unreadable = ec == boost::json::error::too_deep;
        if (ec && !unreadable) return fail("a line that is not JSON");
        if (unreadable) app.reset();
    }
    buffer_.erase(0, newline + 1);
    buffer_offset_ += newline + 1;
    scanned_ = 0;

    // fds that arrived wholly before this line belonged to no handle: drop them.
    while (!fds_.empty() && fds_.front().chunk_end <= line_begin) fds_.pop_front();

    out.fd.reset();
    out.app = std::move(app);
    out.unreadable_app = unreadable;
    if (out.app || unreadable) {
        out.message.clear();
        return Status::message;
    }
    out.message = std::move(*message);
    if (command_of(out.message) == command::handle && !expect_no_fds_) {
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
