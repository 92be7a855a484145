#include "conf/config_diff.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>

namespace vhostd::conf {

namespace {

// Everything a worker takes from the site when it is started: its program, where and as
// whom it runs, its environment (the heartbeat interval is passed there, and a passthrough
// site's certificate paths) and its rlimits.
bool starts_the_same(const Site& a, const Site& b) {
    const bool same_tls = a.tls_mode == b.tls_mode && (a.tls_mode == TlsMode::terminate || (a.certificates == b.certificates && a.acme == b.acme));
    return a.command == b.command && a.runtime == b.runtime && a.cwd == b.cwd && a.env == b.env && a.user == b.user &&
           a.group == b.group && a.limits == b.limits && a.heartbeat_timeout == b.heartbeat_timeout && same_tls;
}

// The loader keeps hosts as written, and IPv6 has many spellings of one address
// ("::1", "0::1"); a listener must not be closed and reopened for a respelling.
bool same_address(const std::string& a, const std::string& b) {
    if (a == b) {
        return true;
    }
    in6_addr first{};
    in6_addr second{};
    return inet_pton(AF_INET6, a.c_str(), &first) == 1 && inet_pton(AF_INET6, b.c_str(), &second) == 1 &&
           std::memcmp(&first, &second, sizeof first) == 0;
}

bool same_socket(const Listener& a, const Listener& b) {
    return a.tls == b.tls && a.endpoint.port == b.endpoint.port && same_address(a.endpoint.host, b.endpoint.host);
}

// The listeners of `from` that have no counterpart in `to`, in `from`'s order.
std::vector<Listener> unmatched(const std::vector<Listener>& from, const std::vector<Listener>& to) {
    std::vector<bool> taken(to.size(), false);
    std::vector<Listener> left;
    for (const Listener& listener : from) {
        std::size_t index = 0;
        while (index < to.size() && (taken[index] || !same_socket(listener, to[index]))) {
            ++index;
        }
        if (index < to.size()) {
            taken[index] = true;
        } else {
            left.push_back(listener);
        }
    }
    return left;
}

std::map<std::string_view, const Site*> by_name(const std::vector<Site>& sites) {
    std::map<std::string_view, const Site*> index;
    for (const Site& site : sites) {
        index.emplace(site.name, &site);
    }
    return index;
}

}  // namespace

bool ConfigDiff::empty() const {
    return added_sites.empty() && removed_sites.empty() && restarted_sites.empty() && updated_sites.empty() &&
           added_listeners.empty() && removed_listeners.empty() && !server_changed && !admin_changed &&
           !acme_changed;
}

ConfigDiff diff_configs(const Config& before, const Config& after) {
    ConfigDiff diff;
    const auto old_sites = by_name(before.sites);
    const auto new_sites = by_name(after.sites);
    for (const Site& site : after.sites) {
        const auto old = old_sites.find(site.name);
        if (old == old_sites.end()) {
            diff.added_sites.push_back(site.name);
        } else if (!starts_the_same(*old->second, site)) {
            diff.restarted_sites.push_back(site.name);
        } else if (!(*old->second == site)) {
            diff.updated_sites.push_back(site.name);
        }
    }
    for (const Site& site : before.sites) {
        if (!new_sites.contains(site.name)) {
            diff.removed_sites.push_back(site.name);
        }
    }
    diff.added_listeners = unmatched(after.listeners, before.listeners);
    diff.removed_listeners = unmatched(before.listeners, after.listeners);
    diff.server_changed = !(before.server == after.server);
    diff.admin_changed = !(before.admin == after.admin);
    diff.acme_changed = !(before.acme == after.acme);
    return diff;
}

}  // namespace vhostd::conf
