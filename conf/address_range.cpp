#include "conf/address_range.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace vhostd::conf {

bool AddressRange::contains(const std::array<unsigned char, 16>& address) const {
    const unsigned whole = prefix / 8;
    if (std::memcmp(address.data(), network.data(), whole) != 0) return false;
    const unsigned rest = prefix % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (address[whole] & mask) == (network[whole] & mask);
}

std::optional<AddressRange> parse_address_range(std::string_view text) {
    const auto slash = text.find('/');
    const std::string address(text.substr(0, slash));
    AddressRange range;
    unsigned max_prefix = 128;
    in_addr v4{};
    in6_addr v6{};
    if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) {
        range.network[10] = range.network[11] = 0xff;
        std::memcpy(range.network.data() + 12, &v4, 4);
        max_prefix = 32;
    } else if (::inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
        std::memcpy(range.network.data(), &v6, 16);
    } else {
        return std::nullopt;
    }
    unsigned prefix = max_prefix;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || prefix > max_prefix) return std::nullopt;
    }
    range.prefix = prefix + (128 - max_prefix);  // an IPv4 prefix counts after the 96 mapped bits
    return range;
}

}  // namespace vhostd::conf
