// Host -> site lookup: exact names in a hash map (O(1)), then the longest "*.suffix" wildcard,
// then the default site. Built once from the config; immutable and safe to share between threads.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vhostd::conf { struct Site; }

namespace vhostd::router {

class SiteTable {
public:
    // Sites are referred to by their index in `sites`. Host patterns must already be valid
    // (conf/ checks them); they are normalised here the same way requests are.
    explicit SiteTable(const std::vector<conf::Site>& sites);

    // `host` must be the output of normalize_host(), or empty when the request had none
    // (HTTP/1.0): then only the default site can match.
    std::optional<std::size_t> lookup(std::string_view host) const;

    std::optional<std::size_t> default_site() const { return default_site_; }

private:
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using HostMap = std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>>;

    HostMap exact_;
    HostMap wildcard_suffixes_;  // "*.blog.example" stored as ".blog.example"
    std::optional<std::size_t> default_site_;
};

}  // namespace vhostd::router
