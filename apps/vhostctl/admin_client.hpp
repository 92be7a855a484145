// A small synchronous HTTP/1.1 client for vhostd's admin endpoint: one request per
// connection, bounded in time, with the bearer token when there is one.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vhostd::ctl {

// Where the admin endpoint listens. IPv6 hosts are kept without brackets, as in conf::Endpoint.
struct AdminAddress {
    std::string host;
    std::uint16_t port = 0;

    // "127.0.0.1:9180", "[::1]:9180": the form users type and messages show.
    std::string to_string() const;
};

// "HOST:PORT" with HOST an address or a name, IPv6 in brackets; nullopt if malformed.
std::optional<AdminAddress> parse_admin_address(std::string_view text);

struct AdminResponse {
    unsigned status = 0;
    std::string body;
};

// No HTTP answer came back (unreachable, timed out, broken answer); what() says which,
// naming the address.
class AdminError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class AdminClient {
public:
    // An empty `token` sends no Authorization header.
    AdminClient(AdminAddress address, std::string token, std::chrono::milliseconds timeout = std::chrono::seconds(5));

    // `target` is the request target as sent ("/status", "/sites/blog/restart").
    // Any HTTP status is a response; only transport failures throw AdminError.
    AdminResponse get(std::string_view target) const;
    AdminResponse post(std::string_view target) const;

    const AdminAddress& address() const { return address_; }
    bool has_token() const { return !token_.empty(); }

private:
    AdminResponse send(bool post, std::string_view target) const;

    AdminAddress address_;
    std::string token_;
    std::chrono::milliseconds timeout_;
};

}  // namespace vhostd::ctl
