#include "sdk/cpp/host.hpp"

#include <algorithm>
#include <cctype>

namespace vhostd::sdk {

namespace {

std::string_view without_port_and_dot(std::string_view host) {
    if (host.starts_with('[')) {
        const auto close = host.find(']');
        return close == std::string_view::npos ? host : host.substr(0, close + 1);
    }
    if (const auto colon = host.find(':'); colon != std::string_view::npos) host = host.substr(0, colon);
    if (host.ends_with('.')) host.remove_suffix(1);
    return host;
}

}  // namespace

bool same_host(std::string_view a, std::string_view b) {
    a = without_port_and_dot(a);
    b = without_port_and_dot(b);
    return !a.empty() && std::equal(a.begin(), a.end(), b.begin(), b.end(), [](unsigned char x, unsigned char y) {
        return std::tolower(x) == std::tolower(y);
    });
}

}  // namespace vhostd::sdk
