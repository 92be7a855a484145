// libFuzzer target: the TOML config loader. Every input gives a config or errors, never a
// crash; every error names a position inside the text (or none) and says something.
#include "conf/loader.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto result = vhostd::conf::load_config_string(text, "/nonexistent/fuzz/vhostd.toml");
    if (const auto* errors = std::get_if<std::vector<vhostd::conf::ConfigError>>(&result)) {
        if (errors->empty()) __builtin_trap();
        for (const auto& error : *errors) {
            if (error.message.empty() || error.line < 0 || error.column < 0) __builtin_trap();
        }
    }
    return 0;
}
