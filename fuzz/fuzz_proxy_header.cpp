// libFuzzer target: the PROXY protocol header reader. A complete header lies within the
// input, and a source address it gives is a valid IP address.
#include "server/proxy_header.hpp"

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const auto parsed = vhostd::server::parse_proxy_header(bytes);
    if (parsed.status == vhostd::server::ProxyHeaderStatus::complete) {
        if (parsed.header.length == 0 || parsed.header.length > size) __builtin_trap();
        const std::string& source = parsed.header.source_address;
        unsigned char address[16];
        if (!source.empty() && ::inet_pton(AF_INET, source.c_str(), address) != 1 && ::inet_pton(AF_INET6, source.c_str(), address) != 1) {
            __builtin_trap();
        }
    }
    return 0;
}
