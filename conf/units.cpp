#include "conf/units.hpp"

#include <charconv>
#include <limits>
#include <string>
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

// `count` in the largest of `units` that divides it exactly.
template <std::size_t N>
std::string in_largest_unit(std::uint64_t count, const Unit (&units)[N]) {
    for (std::size_t index = N; index-- > 1;) {
        const auto& [name, factor] = units[index];
        if (count % factor == 0) {
            return std::to_string(count / factor) + std::string(name);
        }
    }
    return std::to_string(count) + std::string(units[0].first);
}

// The units a default is shown in; minutes are left out.
constexpr Unit shown_duration_units[] = {duration_units[0], duration_units[1], duration_units[3]};

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

std::string format_duration(std::chrono::milliseconds duration) {
    if (duration.count() == 0) {
        return "0s";
    }
    return in_largest_unit(static_cast<std::uint64_t>(duration.count()), shown_duration_units);
}

std::string format_size(std::uint64_t size) {
    if (size == 0) {
        return "0B";
    }
    return in_largest_unit(size, size_units);
}

}  // namespace vhostd::conf
