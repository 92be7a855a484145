#include "conf/units.hpp"

#include <charconv>
#include <limits>
#include <utility>

namespace vhostd::conf {

namespace {

using Unit = std::pair<std::string_view, std::uint64_t>;

constexpr Unit duration_units[] = {
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
};

constexpr Unit size_units[] = {
    {"B", 1},
    {"KiB", std::uint64_t{1} << 10},
    {"MiB", std::uint64_t{1} << 20},
    {"GiB", std::uint64_t{1} << 30},
};

// `count` of `unit` expressed in the base unit, or nothing when the text does not have the
// shape "<digits><unit>" or the result would pass `limit`.
template <std::size_t N>
std::optional<std::uint64_t> scale(std::string_view text, const Unit (&units)[N], std::uint64_t limit) {
    // from_chars takes no sign, space or '+' for an unsigned type, and reports overflow.
    std::uint64_t count = 0;
    const char* const end = text.data() + text.size();
    const auto [unit_start, error] = std::from_chars(text.data(), end, count);
    if (error != std::errc{}) {
        return std::nullopt;
    }
    const std::string_view unit(unit_start, static_cast<std::size_t>(end - unit_start));
    for (const auto& [name, factor] : units) {
        if (unit == name) {
            if (count > limit / factor) {
                return std::nullopt;
            }
            return count * factor;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max());
    const auto millis = scale(text, duration_units, limit);
    if (!millis) {
        return std::nullopt;
    }
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*millis));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    return scale(text, size_units, std::numeric_limits<std::uint64_t>::max());
}

}  // namespace vhostd::conf
