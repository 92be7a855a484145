// libFuzzer target: the TLS ClientHello reader (SNI and ALPN, without terminating TLS).
#include "http/host.hpp"
#include "server/client_hello.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace vhostd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const server::ClientHelloParse parsed = server::parse_client_hello(bytes);
    if (parsed.status == server::ClientHelloStatus::complete) {
        if (parsed.hello.length == 0 || parsed.hello.length > bytes.size()) __builtin_trap();
        const std::string& name = parsed.hello.server_name;
        if (!name.empty() && http::normalize_host(name) != name) __builtin_trap();
    }
    return 0;
}
