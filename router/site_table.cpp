#include "router/site_table.hpp"

#include "conf/config.hpp"
#include "http/host.hpp"

#include <stdexcept>

namespace vhostd::router {
namespace {

constexpr std::string_view wildcard_prefix = "*.";

[[noreturn]] void reject_pattern(const conf::Site& site, const std::string& pattern) {
    throw std::invalid_argument("site '" + site.name + "': invalid host pattern '" + pattern + "'");
}

}  // namespace

SiteTable::SiteTable(const std::vector<conf::Site>& sites) {
    for (std::size_t index = 0; index < sites.size(); ++index) {
        const conf::Site& site = sites[index];
        if (site.is_default && !default_site_) {
            default_site_ = index;
        }
        for (const std::string& written : site.hosts) {
            // conf/ has validated the patterns with the same grammar: failing here is a bug there.
            auto pattern = http::normalize_host_pattern(written);
            if (!pattern) {
                reject_pattern(site, written);
            }
            if (pattern->starts_with(wildcard_prefix)) {
                // Stored with its leading dot: lookup slices the host at a dot and finds it as is.
                wildcard_suffixes_.emplace(pattern->substr(wildcard_prefix.size() - 1), index);
            } else {
                exact_.emplace(std::move(*pattern), index);
            }
        }
    }
}

std::optional<std::size_t> SiteTable::lookup(std::string_view host) const {
    if (host.empty()) {
        return default_site_;
    }
    if (auto found = exact_.find(host); found != exact_.end()) {
        return found->second;
    }
    if (host.front() != '[' && !wildcard_suffixes_.empty()) {
        // Leftmost dot first gives the longest suffix first. Starting at 1 keeps at least one
        // character for the '*', so "*.blog.example" never matches "blog.example" itself.
        for (std::size_t dot = host.find('.', 1); dot != std::string_view::npos; dot = host.find('.', dot + 1)) {
            if (auto found = wildcard_suffixes_.find(host.substr(dot)); found != wildcard_suffixes_.end()) {
                return found->second;
            }
        }
    }
    return default_site_;
}

}  // namespace vhostd::router
