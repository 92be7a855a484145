// An IP address range written as "10.0.0.0/8", "::1" or "192.0.2.7" (a single address).
// Pure: used by the loader to check `proxy_from`, and by the front to match sources.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace vhostd::conf {

struct AddressRange {
    std::array<unsigned char, 16> network{};  // IPv4 as IPv4-mapped IPv6
    unsigned prefix = 128;                     // bits of `network` that must match

    bool operator==(const AddressRange&) const = default;

    // An address as 16 bytes (IPv4-mapped for IPv4).
    bool contains(const std::array<unsigned char, 16>& address) const;
};

// nullopt when `text` is not an address with an optional /prefix (0-32 for IPv4, 0-128 for IPv6).
std::optional<AddressRange> parse_address_range(std::string_view text);

}  // namespace vhostd::conf
