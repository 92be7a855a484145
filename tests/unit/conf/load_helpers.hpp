// What the conf_test files share: loading a config from a string that must be accepted, or
// one whose errors are compared as text.
#pragma once

#include "conf/loader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vhostd::conf {

// Relative paths in the tests' documents resolve against /tmp/x.
inline const std::string config_path = "/tmp/x/site.toml";

// The config read from `text`; each error, if any, fails the test.
inline Config load_valid(std::string_view text, const std::string& path = config_path) {
    auto result = load_config_string(text, path);
    if (const auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
        for (const ConfigError& error : *errors) {
            ADD_FAILURE() << error.to_string();
        }
        return {};
    }
    return std::get<Config>(std::move(result));
}

// Each error as "LINE:COL: KEY_PATH: MESSAGE", in the order the loader returns them.
inline std::vector<std::string> load_errors(std::string_view text) {
    auto result = load_config_string(text, config_path);
    const auto* errors = std::get_if<std::vector<ConfigError>>(&result);
    if (!errors) {
        ADD_FAILURE() << "the config was accepted";
        return {};
    }
    std::vector<std::string> described;
    for (const ConfigError& error : *errors) {
        EXPECT_EQ(error.file, config_path);
        described.push_back(std::to_string(error.line) + ":" + std::to_string(error.column) + ": " + error.key_path +
                            ": " + error.message);
    }
    return described;
}

using Errors = std::vector<std::string>;

}  // namespace vhostd::conf
