// libFuzzer target: the channel's message decoder, fed the input in chunks whose sizes come
// from the input itself, as recvmsg would cut a stream. No fds: those are paired by offset,
// which the unit tests cover with real sockets.
#include "protocol/message.hpp"
#include "protocol/message_decoder.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace vhostd::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    // Bit 7 of the first byte: vhostd's end, which takes JSON that is no command as the app's
    // and no descriptors.
    const bool vhostd_end = (data[0] & 0x80) != 0;
    const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
    MessageDecoder decoder;
    if (vhostd_end) {
        decoder.accept_app_messages();
        decoder.expect_no_fds();
    }
    for (std::size_t offset = 0; offset < stream.size(); offset += chunk) {
        decoder.feed(stream.substr(offset, chunk));
        IncomingMessage message;
        MessageDecoder::Status status;
        while ((status = decoder.next(message)) == MessageDecoder::Status::message) {
            if (message.app || message.unreadable_app) {
                // The app's own: only on vhostd's end, and never with a command beside it.
                if (!vhostd_end || !message.message.empty() || message.fd) __builtin_trap();
                continue;
            }
            // Otherwise only objects with a string "cmd" get out (it may be empty: an unknown command).
            const auto* cmd = message.message.if_contains("cmd");
            if (cmd == nullptr || !cmd->is_string()) __builtin_trap();
            if (command_of(message.message) == command::handle) connection_info_of(message.message);
            if (command_of(message.message) == command::heartbeat) heartbeat_of(message.message);
        }
        if (status == MessageDecoder::Status::error) return 0;
    }
    return 0;
}
