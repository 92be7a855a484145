// libFuzzer target: Host normalisation. Normalising twice changes nothing, and a normalised
// host has no upper case, no port and no trailing dot.
#include "http/host.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view raw(reinterpret_cast<const char*>(data), size);
    const auto host = vhostd::http::normalize_host(raw);
    if (!host) return 0;
    if (host->empty() || host->back() == '.') __builtin_trap();
    for (const char c : *host) {
        if (c >= 'A' && c <= 'Z') __builtin_trap();
    }
    if (vhostd::http::normalize_host(*host) != host) __builtin_trap();
    return 0;
}
