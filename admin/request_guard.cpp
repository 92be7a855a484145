#include "admin/request_guard.hpp"

#include "http/host.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace vhostd::admin {

namespace {

// The address inside a normalised host ("[::1]" -> ::1), if it is one.
std::optional<boost::asio::ip::address> address_of(std::string_view host) {
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(std::string(host), ec);
    if (ec) return std::nullopt;
    return address;
}

}  // namespace

HostRule::HostRule(std::string_view listen_host, std::vector<std::string> names) : names_(std::move(names)) {
    const auto address = address_of(listen_host);
    loopback_ = address && address->is_loopback();
    if (address && !address->is_unspecified()) {
        address_ = address->is_v6() ? "[" + address->to_string() + "]" : address->to_string();
    }
}

bool HostRule::admits(std::string_view host_value) const {
    const std::optional<std::string> host = http::normalize_host(host_value);
    if (!host) return false;
    if (const auto address = address_of(*host)) {
        // A wildcard endpoint is reached on any of the machine's addresses; an address is
        // never an attacker's name.
        if (address_.empty()) return true;
        return address->is_v6() ? "[" + address->to_string() + "]" == address_ : address->to_string() == address_;
    }
    if (loopback_ && *host == "localhost") return true;
    return std::find(names_.begin(), names_.end(), *host) != names_.end();
}

bool is_cross_site_change(const RequestOrigin& request) {
    if (request.method == "GET" || request.method == "HEAD" || request.method == "OPTIONS") return false;
    // "none": the user's own action (typed or bookmarked); "same-origin": the dashboard.
    if (request.fetch_site && *request.fetch_site != "same-origin" && *request.fetch_site != "none") return true;
    if (!request.origin) return false;  // not from a browser page (curl, vhostctl)
    const std::string_view origin = *request.origin;
    const std::size_t scheme_end = origin.find("://");
    if (scheme_end == std::string_view::npos) return true;  // "null": a sandboxed or file: page
    // The browser writes both from the page's URL: the same authority means the same site.
    return !boost::beast::iequals(origin.substr(scheme_end + 3), request.host);
}

}  // namespace vhostd::admin
