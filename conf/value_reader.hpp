// The TOML primitives of the config file, each read once here: booleans, integers in a
// range, strings, paths, durations, sizes, "IP:port" addresses, address ranges, host
// patterns, programs and environment tables. A ValueReader also collects every problem with
// its position and key path, so one run of `vhostd --check` shows them all.
#pragma once

#include "conf/config.hpp"
#include "conf/loader.hpp"

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vhostd::conf {

// "sites.blog" + "workers" -> "sites.blog.workers"; "listen" + 0 -> "listen[0]".
std::string child(std::string_view parent, std::string_view key);
std::string element(std::string_view array, std::size_t index);

// Where a value sits, so a later conflict (same host, second default) can point back to it.
struct Place {
    std::string key_path;
    toml::source_position position;
};

// "sites.blog.hosts[0] (line 3, column 10)"
std::string describe(const Place& place);

// Whether a duration of 0 is a valid value of the key.
enum class Zero { allowed, rejected };

class ValueReader {
public:
    ValueReader(std::string file, std::filesystem::path config_dir);

    const std::filesystem::path& config_dir() const { return config_dir_; }

    // Every problem reported so far, in the order of the file.
    std::vector<ConfigError> take_errors();

    void report(toml::source_position where, std::string key_path, std::string message);
    void report(const toml::node& node, std::string key_path, std::string message);
    void report_unknown(const toml::key& key, std::string key_path);
    void report_missing(const toml::table& enclosing, std::string key_path);

    // nullptr (reported) when the node is of another type.
    const toml::table* table_at(const toml::node& node, const std::string& path);
    const toml::array* array_at(const toml::node& node, const std::string& path);

    // Each returns whether `into` was set; a value it rejects is reported and leaves `into` alone.
    bool read_bool(const toml::node& node, const std::string& path, bool& into);
    template <typename Int>
    bool read_integer(const toml::node& node, const std::string& path, std::int64_t min, std::int64_t max, Int& into) {
        std::int64_t value = 0;
        if (!read_integer_value(node, path, min, max, value)) return false;
        into = static_cast<Int>(value);
        return true;
    }
    bool read_string(const toml::node& node, const std::string& path, std::string& into);
    bool read_nonempty_string(const toml::node& node, const std::string& path, std::string& into);
    // A path relative to the config file, stored absolute and with one spelling.
    bool read_path(const toml::node& node, const std::string& path, std::string& into);
    bool read_duration(const toml::node& node, const std::string& path, Zero zero, Duration& into);
    bool read_size(const toml::node& node, const std::string& path, std::uint64_t& into);
    // `minimum_text` and `maximum_text` are the bounds as the user would write them.
    bool read_size_between(const toml::node& node, const std::string& path, std::uint64_t minimum,
                           std::uint64_t maximum, std::string_view minimum_text, std::string_view maximum_text,
                           std::uint64_t& into);
    bool read_size_at_least(const toml::node& node, const std::string& path, std::uint64_t minimum,
                            std::string_view minimum_text, std::uint64_t& into);
    // "IP:port"; `address` keeps the text as written, for messages.
    bool read_endpoint(const toml::node& node, const std::string& path, std::string& address, Endpoint& into);
    bool read_address_ranges(const toml::node& node, const std::string& path, std::vector<AddressRange>& into);
    // A site's host pattern, normalised as router/ normalises a request's Host.
    std::optional<std::string> read_host_pattern(const toml::node& node, const std::string& path);
    // A non-empty array of non-empty strings; a program with a '/' resolves against the config dir.
    bool read_program(const toml::node& node, const std::string& path, std::vector<std::string>& into);
    // Environment variables by name; adds to `into`.
    bool read_env_table(const toml::node& node, const std::string& path, std::map<std::string, std::string>& into);

private:
    bool read_integer_value(const toml::node& node, const std::string& path, std::int64_t min, std::int64_t max,
                            std::int64_t& into);

    std::string file_;
    std::filesystem::path config_dir_;
    std::vector<ConfigError> errors_;
};

}  // namespace vhostd::conf
