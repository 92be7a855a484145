#include "conf/cron_schedule.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <vector>

namespace vhostd::conf {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator, bool skip_empty) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto end = std::min(text.find(separator, start), text.size());
        if (!skip_empty || end > start) parts.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

std::optional<int> number(std::string_view text) {
    int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// Sets the bits of one field ("1-5,10,*/15") within [low, high]; false on a bad part.
template <std::size_t N>
bool parse_field(std::string_view field, int low, int high, std::bitset<N>& bits) {
    for (std::string_view part : split(field, ',', false)) {
        int step = 1;
        if (const auto slash = part.find('/'); slash != std::string_view::npos) {
            const auto given = number(part.substr(slash + 1));
            if (!given || *given < 1 || *given > high - low + 1) return false;
            step = *given;
            part = part.substr(0, slash);
        }
        int first = low;
        int last = high;
        if (part != "*") {
            const auto dash = part.find('-');
            const auto from = number(part.substr(0, dash));
            const auto to = dash == std::string_view::npos ? from : number(part.substr(dash + 1));
            if (!from || !to || *from < low || *to > high || *from > *to) return false;
            first = *from;
            // "5/15" means from 5 to the end in steps of 15, as in Vixie cron.
            last = dash == std::string_view::npos && step > 1 ? high : *to;
        }
        for (int value = first; value <= last; value += step) bits.set(static_cast<std::size_t>(value));
    }
    return true;
}

}  // namespace

std::optional<CronSchedule> CronSchedule::parse(std::string_view text, std::string& problem) {
    const auto fields = split(text, ' ', true);
    if (fields.size() != 5) {
        problem = "must have five fields: minute hour day-of-month month day-of-week";
        return std::nullopt;
    }
    CronSchedule schedule;
    schedule.text_ = std::string(text);
    std::bitset<8> weekdays;
    const struct {
        bool ok;
        const char* name;
    } checks[] = {
        {parse_field(fields[0], 0, 59, schedule.minutes_), "minute (0-59)"},
        {parse_field(fields[1], 0, 23, schedule.hours_), "hour (0-23)"},
        {parse_field(fields[2], 1, 31, schedule.days_), "day of month (1-31)"},
        {parse_field(fields[3], 1, 12, schedule.months_), "month (1-12)"},
        {parse_field(fields[4], 0, 7, weekdays), "day of week (0-7)"},
    };
    for (const auto& check : checks) {
        if (!check.ok) {
            problem = std::string("bad ") + check.name + " field";
            return std::nullopt;
        }
    }
    schedule.weekdays_ = weekdays;
    if (weekdays.test(7)) schedule.weekdays_.set(0);
    schedule.weekdays_.reset(7);
    schedule.any_day_ = fields[2].starts_with('*');
    schedule.any_weekday_ = fields[4].starts_with('*');
    return schedule;
}

std::optional<std::chrono::system_clock::time_point> CronSchedule::next_after(std::chrono::system_clock::time_point after) const {
    using namespace std::chrono;
    std::time_t t = system_clock::to_time_t(time_point_cast<minutes>(after) + minutes(1));
    std::tm local{};
    ::localtime_r(&t, &local);
    local.tm_sec = 0;
    // Minute by minute would be simple but slow; skip whole days and hours that cannot match.
    // Bounded by time: a date that never comes (30 February) gives up after five years.
    const std::time_t give_up = t + std::time_t{5} * 366 * 24 * 3600;
    while (t <= give_up) {
        // Vixie cron: when both day fields are restricted, either may match.
        const bool day_matches = any_day_ && any_weekday_   ? true
                                 : any_day_                 ? weekdays_.test(static_cast<std::size_t>(local.tm_wday))
                                 : any_weekday_             ? days_.test(static_cast<std::size_t>(local.tm_mday))
                                                            : days_.test(static_cast<std::size_t>(local.tm_mday)) ||
                                                  weekdays_.test(static_cast<std::size_t>(local.tm_wday));
        if (!months_.test(static_cast<std::size_t>(local.tm_mon + 1)) || !day_matches) {
            local.tm_mday += 1;
            local.tm_hour = 0;
            local.tm_min = 0;
        } else if (!hours_.test(static_cast<std::size_t>(local.tm_hour))) {
            local.tm_hour += 1;
            local.tm_min = 0;
        } else if (!minutes_.test(static_cast<std::size_t>(local.tm_min))) {
            local.tm_min += 1;
        } else {
            return system_clock::from_time_t(std::mktime(&local));
        }
        local.tm_isdst = -1;
        t = std::mktime(&local);  // normalises the overflowed fields
        ::localtime_r(&t, &local);
    }
    return std::nullopt;
}

}  // namespace vhostd::conf
