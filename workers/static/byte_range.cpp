#include "workers/static/byte_range.hpp"

#include "http/field_value.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace vhostd::static_files {
namespace {

using http::trim_ows;

// All digits, fitting in 64 bits; "" is not a number.
std::optional<std::uint64_t> number(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
    using Kind = RangeRequest::Kind;
    header = trim_ows(header);
    const auto equals = header.find('=');
    if (equals == std::string_view::npos) return {};
    std::string_view unit = trim_ows(header.substr(0, equals));
    if (unit.size() != 5 || (unit[0] | 0x20) != 'b' || (unit[1] | 0x20) != 'y' || (unit[2] | 0x20) != 't' ||
        (unit[3] | 0x20) != 'e' || (unit[4] | 0x20) != 's') {
        return {};
    }
    const std::string_view spec = trim_ows(header.substr(equals + 1));
    if (spec.find(',') != std::string_view::npos) return {};
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return {};
    const std::string_view first_text = trim_ows(spec.substr(0, dash));
    const std::string_view last_text = trim_ows(spec.substr(dash + 1));

    if (first_text.empty()) {  // "-N": the last N bytes
        const auto suffix = number(last_text);
        if (!suffix) return {};
        if (*suffix == 0 || size == 0) return {Kind::unsatisfiable};
        return {Kind::partial, size - std::min(*suffix, size), size - 1};
    }
    const auto first = number(first_text);
    if (!first) return {};
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (!last_text.empty()) {
        const auto given = number(last_text);
        if (!given || *given < *first) return {};
        last = std::min(*given, last);
    }
    if (*first >= size) return {Kind::unsatisfiable};
    return {Kind::partial, *first, last};
}

}  // namespace vhostd::static_files
