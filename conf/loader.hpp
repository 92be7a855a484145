// TOML text -> Config, or every error found, each naming file:line:col and the key path.
#pragma once

#include "conf/config.hpp"

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vhostd::conf {

struct ConfigError {
    std::string file;
    int line = 0;      // 1-based; 0 when the error has no position (e.g. file unreadable)
    int column = 0;
    std::string key_path;  // "sites.blog.workers"; empty for syntax errors
    std::string message;

    // "demo.toml:12:11: sites.blog.workers: must be a positive integer"
    std::string to_string() const;
};

using LoadResult = std::variant<Config, std::vector<ConfigError>>;

// Reads and validates a config file. Relative paths inside it resolve against its directory.
LoadResult load_config_file(const std::string& path);

// "3.3.0": the toml++ the loader was built with, for --version.
std::string toml_library_version();

// Same, for text already in memory; `path` names it in messages and anchors relative paths.
LoadResult load_config_string(std::string_view text, const std::string& path);

}  // namespace vhostd::conf
