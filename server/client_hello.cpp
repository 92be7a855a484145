#include "server/client_hello.hpp"

#include "http/host.hpp"

#include <cstdint>
#include <optional>

namespace vhostd::server {

namespace {

constexpr std::uint8_t record_handshake = 22;
constexpr std::uint8_t handshake_client_hello = 1;
constexpr std::uint16_t extension_server_name = 0;
constexpr std::uint16_t extension_alpn = 16;
constexpr std::uint8_t name_type_host_name = 0;
constexpr std::size_t record_header = 5;
constexpr std::size_t max_record = 16384 + 2048;  // TLSPlaintext limit, with the TLS 1.2 allowance

// Reads big-endian fields from a byte range and remembers whether it ran out.
class Reader {
public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}

    bool ok() const { return ok_; }
    std::size_t left() const { return bytes_.size() - at_; }

    std::uint32_t number(std::size_t width) {
        if (left() < width) return fail();
        std::uint32_t value = 0;
        for (std::size_t i = 0; i < width; ++i) value = (value << 8) | static_cast<std::uint8_t>(bytes_[at_ + i]);
        at_ += width;
        return value;
    }
    std::string_view take(std::size_t count) {
        if (left() < count) {
            fail();
            return {};
        }
        const auto piece = bytes_.substr(at_, count);
        at_ += count;
        return piece;
    }
    // A field preceded by its length in `width` bytes.
    std::string_view vector(std::size_t width) { return take(number(width)); }

private:
    std::uint32_t fail() {
        ok_ = false;
        at_ = bytes_.size();
        return 0;
    }
    std::string_view bytes_;
    std::size_t at_ = 0;
    bool ok_ = true;
};

ClientHelloParse failure(ClientHelloStatus status, std::string reason) {
    ClientHelloParse result;
    result.status = status;
    result.reason = std::move(reason);
    return result;
}

// The server_name extension: a list of names, of which the host_name one matters.
std::optional<std::string> read_server_name(std::string_view data, std::string& reason) {
    Reader extension(data);
    Reader list(extension.vector(2));
    if (!extension.ok() || extension.left() != 0) {
        reason = "bad server_name extension";
        return std::nullopt;
    }
    std::string name;
    while (list.left() > 0) {
        const auto type = list.number(1);
        const auto value = list.vector(2);
        if (!list.ok()) {
            reason = "bad server_name list";
            return std::nullopt;
        }
        if (type != name_type_host_name) continue;
        if (!name.empty()) {
            reason = "two host names in server_name";
            return std::nullopt;
        }
        const auto normalised = http::normalize_host(value);
        if (!normalised || value.find(':') != std::string_view::npos) {
            reason = "invalid host name in server_name";
            return std::nullopt;
        }
        name = *normalised;
    }
    return name;
}

std::optional<std::vector<std::string>> read_alpn(std::string_view data, std::string& reason) {
    Reader extension(data);
    Reader list(extension.vector(2));
    std::vector<std::string> protocols;
    while (extension.ok() && list.ok() && list.left() > 0) {
        const auto protocol = list.vector(1);
        if (protocol.empty()) break;
        protocols.emplace_back(protocol);
    }
    if (!extension.ok() || !list.ok() || extension.left() != 0 || list.left() != 0) {
        reason = "bad application_layer_protocol_negotiation extension";
        return std::nullopt;
    }
    return protocols;
}

}  // namespace

ClientHelloParse parse_client_hello(std::string_view bytes, std::size_t max_size) {
    if (bytes.empty()) return {};
    if (static_cast<std::uint8_t>(bytes[0]) != record_handshake) return failure(ClientHelloStatus::not_tls, "not a TLS handshake record");

    // Gather the handshake message from as many records as it takes.
    std::string handshake;
    std::size_t at = 0;
    std::optional<std::size_t> message_size;
    while (!message_size || handshake.size() < *message_size + 4) {
        if (bytes.size() - at < record_header) return {};
        Reader header(bytes.substr(at, record_header));
        const auto type = header.number(1);
        const auto major = header.number(1);
        header.number(1);  // minor: any TLS 1.x record version
        const auto length = header.number(2);
        if (type != record_handshake) return failure(ClientHelloStatus::malformed, "ClientHello interrupted by another record type");
        if (major != 3) return failure(ClientHelloStatus::not_tls, "not a TLS record version");
        if (length == 0 || length > max_record) return failure(ClientHelloStatus::malformed, "bad record length");
        if (bytes.size() - at - record_header < length) {
            // What has arrived of this record can already be checked.
            handshake.append(bytes.substr(at + record_header));
            if (!handshake.empty() && static_cast<std::uint8_t>(handshake[0]) != handshake_client_hello) {
                return failure(ClientHelloStatus::malformed, "first handshake message is not a ClientHello");
            }
            if (handshake.size() > max_size) return failure(ClientHelloStatus::malformed, "ClientHello too large");
            return {};
        }
        handshake.append(bytes.substr(at + record_header, length));
        at += record_header + length;
        if (static_cast<std::uint8_t>(handshake[0]) != handshake_client_hello) {
            return failure(ClientHelloStatus::malformed, "first handshake message is not a ClientHello");
        }
        if (handshake.size() >= 4) message_size = Reader(std::string_view(handshake).substr(1, 3)).number(3);
        if (message_size && *message_size + 4 > max_size) return failure(ClientHelloStatus::malformed, "ClientHello too large");
    }

    Reader message(std::string_view(handshake).substr(4, *message_size));
    message.take(2 + 32);  // legacy_version, random
    message.vector(1);     // legacy_session_id
    message.vector(2);     // cipher_suites
    message.vector(1);     // legacy_compression_methods
    if (!message.ok()) return failure(ClientHelloStatus::malformed, "truncated ClientHello");

    ClientHelloParse result;
    result.status = ClientHelloStatus::complete;
    result.hello.length = at;
    if (message.left() == 0) return result;  // no extensions at all: no SNI, no ALPN
    Reader extensions(message.vector(2));
    if (!message.ok() || message.left() != 0) return failure(ClientHelloStatus::malformed, "bad extensions length");
    bool seen_name = false, seen_alpn = false;
    while (extensions.left() > 0) {
        const auto type = extensions.number(2);
        const auto data = extensions.vector(2);
        if (!extensions.ok()) return failure(ClientHelloStatus::malformed, "truncated extension");
        std::string reason;
        if (type == extension_server_name) {
            if (seen_name) return failure(ClientHelloStatus::malformed, "two server_name extensions");
            seen_name = true;
            auto name = read_server_name(data, reason);
            if (!name) return failure(ClientHelloStatus::malformed, reason);
            result.hello.server_name = std::move(*name);
        } else if (type == extension_alpn) {
            if (seen_alpn) return failure(ClientHelloStatus::malformed, "two ALPN extensions");
            seen_alpn = true;
            auto protocols = read_alpn(data, reason);
            if (!protocols) return failure(ClientHelloStatus::malformed, reason);
            result.hello.alpn = std::move(*protocols);
        }
    }
    return result;
}

}  // namespace vhostd::server
