// libFuzzer target: the HTTP/1.x head parser. Besides not crashing, checks what the front
// relies on: a complete head lies within the input, its Host is already normalised, and a
// prefix of a complete head never looks complete or wrong in another way.
#include "http/host.hpp"
#include "http/request_head.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace vhostd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    for (const http::HeadLimits& limits : {http::HeadLimits{}, http::HeadLimits{64, 32, 3}}) {
        const http::HeadParseResult whole = http::parse_request_head(bytes, limits);
        if (whole.status == http::HeadStatus::complete) {
            if (whole.head.length == 0 || whole.head.length > bytes.size()) __builtin_trap();
            if (!whole.head.host.empty() && http::normalize_host(whole.head.host) != whole.head.host) __builtin_trap();
            // Only the head decides: what follows it changes nothing.
            const http::HeadParseResult head_only = http::parse_request_head(bytes.substr(0, whole.head.length), limits);
            if (head_only.status != http::HeadStatus::complete || head_only.head.host != whole.head.host) __builtin_trap();
        }
        if (whole.status == http::HeadStatus::error && (whole.http_status < 400 || whole.http_status > 505)) __builtin_trap();
        // Feeding less must never complete: a prefix of anything is need_more or an error.
        if (size > 1) {
            const http::HeadParseResult half = http::parse_request_head(bytes.substr(0, size / 2), limits);
            if (half.status == http::HeadStatus::complete && whole.status != http::HeadStatus::complete) __builtin_trap();
        }
    }
    return 0;
}
