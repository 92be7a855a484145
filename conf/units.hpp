// The human units used in the config: "250ms", "10s", "5m", "1h"; "16KiB", "512MiB".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vhostd::conf {

// Accepts a non-negative integer followed by ms, s, m or h (no space, no fractions).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// Accepts a non-negative integer followed by B, KiB, MiB or GiB (KB/MB/GB are not accepted:
// they are ambiguous between 1000 and 1024).
std::optional<std::uint64_t> parse_size(std::string_view text);

// The inverses, for showing defaults: whole hours as "1h", else whole seconds as "60s"
// (never minutes, as the docs write them), else "500ms".
std::string format_duration(std::chrono::milliseconds duration);
// The largest unit that divides the size exactly: "16KiB", "10MiB", "0B".
std::string format_size(std::uint64_t size);

}  // namespace vhostd::conf
