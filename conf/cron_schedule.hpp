// A cron expression ("*/5 * * * *": minute, hour, day of month, month, day of week) and the
// next time it fires. Pure: no I/O; times are in the machine's local time zone, as cron's.
// Around a daylight-saving change, times follow mktime's reading of the local time: a time
// in the skipped hour moves to the hour after, and the repeated hour runs once.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace vhostd::conf {

class CronSchedule {
public:
    // nullopt and a reason in `problem` when the text is not five valid fields. Each field
    // takes "*", numbers, ranges "a-b", lists "a,b" and steps "*/n" or "a-b/n"; day of week
    // is 0-7 (0 and 7 are Sunday). Names (MON, JAN) and "@daily" forms are not supported.
    static std::optional<CronSchedule> parse(std::string_view text, std::string& problem);

    // The first minute strictly after `after` that matches, or nullopt if none within 5
    // years (a date that never comes, such as 30 February).
    std::optional<std::chrono::system_clock::time_point> next_after(std::chrono::system_clock::time_point after) const;

    const std::string& text() const { return text_; }
    bool operator==(const CronSchedule& other) const { return text_ == other.text_; }

private:
    std::string text_;
    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;      // 1-31
    std::bitset<13> months_;    // 1-12
    std::bitset<8> weekdays_;   // 0-6, Sunday = 0
    bool any_day_ = false;      // day of month was "*"
    bool any_weekday_ = false;  // day of week was "*"
};

}  // namespace vhostd::conf
