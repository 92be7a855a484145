#include "workers/static/validators.hpp"

#include "http/field_value.hpp"

#include <array>
#include <cstdio>
#include <cstring>

namespace vhostd::static_files {
namespace {

using http::trim_ows;

constexpr std::array<const char*, 7> day_names = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Calls `visit(tag, weak)` for each entity tag of a comma-separated list; stops when it
// returns true. "*" is passed as is.
template <typename Visit>
bool any_tag(std::string_view list, Visit visit) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view item = trim_ows(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        bool weak = false;
        if (item.starts_with("W/")) {
            weak = true;
            item.remove_prefix(2);
        }
        if (!item.empty() && visit(item, weak)) return true;
    }
    return false;
}

// Strong comparison (If-Match, If-Range): both strong and equal.
bool strong_match(std::string_view list, std::string_view tag) {
    return any_tag(list, [&](std::string_view item, bool weak) { return item == "*" || (!weak && item == tag); });
}

// Weak comparison (If-None-Match): equal opaque tags, weak or not.
bool weak_match(std::string_view list, std::string_view tag) {
    return any_tag(list, [&](std::string_view item, bool) { return item == "*" || item == tag; });
}

int month_index(std::string_view name) {
    for (std::size_t i = 0; i < month_names.size(); ++i) {
        if (name == month_names[i]) return static_cast<int>(i);
    }
    return -1;
}

}  // namespace

std::string entity_tag(std::uint64_t size, const std::timespec& modified) {
    char text[64];
    const auto nanoseconds = static_cast<unsigned long long>(modified.tv_sec) * 1'000'000'000ULL +
                             static_cast<unsigned long long>(modified.tv_nsec);
    std::snprintf(text, sizeof text, "\"%llx-%llx\"", nanoseconds, static_cast<unsigned long long>(size));
    return text;
}

std::string http_date(std::time_t when) {
    std::tm utc{};
    ::gmtime_r(&when, &utc);
    char text[32];
    std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[utc.tm_wday], utc.tm_mday,
                  month_names[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
    return text;
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
    const std::string copy(trim_ows(text));
    std::tm utc{};
    char weekday[16] = {}, month[4] = {};
    int consumed = 0;
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (std::sscanf(copy.c_str(), "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", weekday, &utc.tm_mday, month, &utc.tm_year,
                    &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) == 7 &&
        consumed == static_cast<int>(copy.size())) {
        utc.tm_year -= 1900;
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years: 70-99 are 19xx)
    } else if (consumed = 0; std::sscanf(copy.c_str(), "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n", weekday, &utc.tm_mday,
                                         month, &utc.tm_year, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) == 7 &&
                                 consumed == static_cast<int>(copy.size())) {
        if (utc.tm_year < 70) utc.tm_year += 100;
    // asctime: "Sun Nov  6 08:49:37 1994"
    } else if (consumed = 0; std::sscanf(copy.c_str(), "%3s %3s %d %2d:%2d:%2d %4d%n", weekday, month, &utc.tm_mday,
                                         &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &utc.tm_year, &consumed) == 7 &&
                                 consumed == static_cast<int>(copy.size())) {
        utc.tm_year -= 1900;
    } else {
        return std::nullopt;
    }
    utc.tm_mon = month_index(month);
    if (utc.tm_mon < 0 || utc.tm_mday < 1 || utc.tm_mday > 31 || utc.tm_hour > 23 || utc.tm_min > 59 || utc.tm_sec > 60) {
        return std::nullopt;
    }
    return ::timegm(&utc);
}

Precondition evaluate(const Conditions& conditions, std::string_view tag, std::time_t modified) {
    if (!conditions.if_match.empty()) {
        if (!strong_match(conditions.if_match, tag)) return Precondition::failed;
    } else if (!conditions.if_unmodified_since.empty()) {
        const auto since = parse_http_date(conditions.if_unmodified_since);
        if (since && modified > *since) return Precondition::failed;
    }
    if (!conditions.if_none_match.empty()) {
        if (weak_match(conditions.if_none_match, tag)) return Precondition::not_modified;
    } else if (!conditions.if_modified_since.empty()) {
        const auto since = parse_http_date(conditions.if_modified_since);
        if (since && modified <= *since) return Precondition::not_modified;
    }
    return Precondition::proceed;
}

bool range_allowed(std::string_view if_range, std::string_view tag, std::time_t modified) {
    if_range = trim_ows(if_range);
    if (if_range.empty()) return true;
    if (if_range.front() == '"' || if_range.starts_with("W/")) return if_range == tag;  // strong comparison
    const auto date = parse_http_date(if_range);
    return date && *date == modified;
}

}  // namespace vhostd::static_files
