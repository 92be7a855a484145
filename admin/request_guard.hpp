// What the admin endpoint refuses before it reads a request's meaning: pure, so that the
// rules are unit-tested apart from the sockets (docs/configuration.md, [admin]).
//  - a Host that is not the endpoint's: a page on a name an attacker controls reaches a
//    loopback endpoint through DNS rebinding, and its requests carry that name;
//  - a state-changing request from another site's page (a cross-origin form POST needs no
//    CORS permission, and the browser sends Origin and Sec-Fetch-Site with it).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vhostd::admin {

class HostRule {
public:
    // `listen_host`: the endpoint's address as configured ("127.0.0.1", "::", "[::1]");
    // `names`: [admin] hosts, normalised.
    HostRule(std::string_view listen_host, std::vector<std::string> names);

    // True when a request with this Host value is for the endpoint.
    bool admits(std::string_view host_value) const;

private:
    std::string address_;  // normalised (IPv6 in brackets); empty when the endpoint listens on a wildcard
    bool loopback_ = false;
    std::vector<std::string> names_;
};

// The request's method and the fields of its head that say where it comes from.
struct RequestOrigin {
    std::string_view method;
    std::string_view host;            // the Host value
    std::optional<std::string_view> origin;
    std::optional<std::string_view> fetch_site;  // Sec-Fetch-Site
};

// True when a request that changes something comes from another site's page.
bool is_cross_site_change(const RequestOrigin& request);

}  // namespace vhostd::admin
