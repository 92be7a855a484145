#include "server/proxy_header.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace vhostd::server {

namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::size_t v1_max_length = 107;  // the spec's worst case, CRLF included
constexpr std::string_view v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr std::size_t v2_fixed_length = 16;

ProxyHeaderParse invalid(std::string reason) { return {ProxyHeaderStatus::invalid, {}, std::move(reason)}; }

// The next field of a v1 line, up to a single space (or the end of the line for the last).
std::string_view next_field(std::string_view& rest) {
    const auto space = rest.find(' ');
    const std::string_view field = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    return field;
}

bool parse_port(std::string_view text, std::uint16_t& port) {
    // No sign, no leading zero (the spec's form), at most 65535.
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text.front() == '0')) return false;
    unsigned value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value > 65535) return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

bool valid_address(std::string_view text, int family) {
    const std::string address(text);
    unsigned char bytes[16];
    return ::inet_pton(family, address.c_str(), bytes) == 1;
}

ProxyHeaderParse parse_v1(std::string_view bytes) {
    const auto end = bytes.find("\r\n");
    if (end == std::string_view::npos) {
        if (bytes.size() >= v1_max_length) return invalid("PROXY v1 line too long");
        // Only printable ASCII may come before the CRLF.
        for (const char c : bytes) {
            if (c != '\r' && (c < 0x20 || c > 0x7e)) return invalid("PROXY v1 line with a control character");
        }
        return {};
    }
    if (end + 2 > v1_max_length) return invalid("PROXY v1 line too long");
    std::string_view rest = bytes.substr(v1_prefix.size(), end - v1_prefix.size());
    ProxyHeaderParse parsed{ProxyHeaderStatus::complete, {}, {}};
    parsed.header.length = end + 2;
    const std::string_view protocol = next_field(rest);
    if (protocol == "UNKNOWN") return parsed;  // the rest of the line is to be ignored
    const int family = protocol == "TCP4" ? AF_INET : protocol == "TCP6" ? AF_INET6 : 0;
    if (family == 0) return invalid("PROXY v1: unknown protocol");
    const std::string_view source = next_field(rest);
    const std::string_view destination = next_field(rest);
    const std::string_view source_port = next_field(rest);
    const std::string_view destination_port = next_field(rest);
    std::uint16_t ignored = 0;
    if (!rest.empty() || !valid_address(source, family) || !valid_address(destination, family) ||
        !parse_port(source_port, parsed.header.source_port) || !parse_port(destination_port, ignored)) {
        return invalid("PROXY v1: malformed addresses or ports");
    }
    parsed.header.source_address = source;
    return parsed;
}

ProxyHeaderParse parse_v2(std::string_view bytes) {
    if (bytes.size() < v2_fixed_length) return {};
    const auto byte = [&bytes](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
    if ((byte(12) >> 4) != 2) return invalid("PROXY v2: unsupported version");
    const unsigned command = byte(12) & 0x0f;
    if (command > 1) return invalid("PROXY v2: unknown command");
    const std::size_t length = v2_fixed_length + (std::size_t{byte(14)} << 8 | byte(15));
    if (bytes.size() < length) return {};
    ProxyHeaderParse parsed{ProxyHeaderStatus::complete, {}, {}};
    parsed.header.length = length;
    if (command == 0) return parsed;  // LOCAL: the balancer's own connection
    const unsigned family = byte(13) >> 4;
    const unsigned transport = byte(13) & 0x0f;
    if (family == 0) return parsed;   // AF_UNSPEC: no address to use
    if (transport != 1) return invalid("PROXY v2: not a stream connection");
    const std::size_t needed = family == 1 ? 12 : family == 2 ? 36 : 0;
    if (needed == 0) return invalid("PROXY v2: unsupported address family");
    if (length - v2_fixed_length < needed) return invalid("PROXY v2: address block too short");
    const std::size_t address_size = family == 1 ? 4 : 16;
    char text[INET6_ADDRSTRLEN];
    if (::inet_ntop(family == 1 ? AF_INET : AF_INET6, bytes.data() + v2_fixed_length, text, sizeof text) == nullptr) {
        return invalid("PROXY v2: bad address");
    }
    const std::size_t port_at = v2_fixed_length + 2 * address_size;
    parsed.header.source_address = text;
    parsed.header.source_port = static_cast<std::uint16_t>(byte(port_at) << 8 | byte(port_at + 1));
    return parsed;
}

}  // namespace

ProxyHeaderParse parse_proxy_header(std::string_view bytes) {
    if (bytes.empty()) return {};
    // Decide the version from as many bytes as have come, refusing as soon as neither fits.
    const std::size_t v1_seen = std::min(bytes.size(), v1_prefix.size());
    if (bytes.substr(0, v1_seen) == v1_prefix.substr(0, v1_seen)) {
        return bytes.size() < v1_prefix.size() ? ProxyHeaderParse{} : parse_v1(bytes);
    }
    const std::size_t v2_seen = std::min(bytes.size(), v2_signature.size());
    if (bytes.substr(0, v2_seen) == v2_signature.substr(0, v2_seen)) {
        return bytes.size() < v2_signature.size() ? ProxyHeaderParse{} : parse_v2(bytes);
    }
    return invalid("no PROXY protocol header");
}

}  // namespace vhostd::server
