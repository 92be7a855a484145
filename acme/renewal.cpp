#include "acme/renewal.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <string>

namespace vhostd::acme {

using std::chrono::milliseconds;

Clock::time_point renewal_time(Clock::time_point not_before, Clock::time_point not_after, unsigned percent_left, double jitter) {
    const auto lifetime = std::max(not_after - not_before, Clock::duration::zero());
    const auto left = lifetime * std::min(percent_left, 100u) / 100;
    const auto spread = std::chrono::duration_cast<Clock::duration>(lifetime / 20 * std::clamp(jitter, 0.0, 1.0));
    return std::max(not_after - left - spread, not_before);
}

Clock::time_point time_in_window(Clock::time_point start, Clock::time_point end, double fraction) {
    const auto width = std::max(end - start, Clock::duration::zero());
    return start + std::chrono::duration_cast<Clock::duration>(width * std::clamp(fraction, 0.0, 1.0));
}

milliseconds retry_delay(unsigned failures, milliseconds initial, milliseconds max) {
    milliseconds delay = initial;
    for (unsigned i = 1; i < failures && delay < max; ++i) delay *= 2;
    return std::min(delay, max);
}

namespace {

// "Sun, 06 Nov 1994 08:49:37 GMT", the one date form RFC 9110 asks senders to use.
bool parse_http_date(std::string_view text, Clock::time_point& into) {
    std::tm parts{};
    const std::string copy(text);
    const char* end = ::strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
    if (end == nullptr || *end != '\0') return false;
    into = Clock::from_time_t(::timegm(&parts));
    return true;
}

}  // namespace

milliseconds retry_after(std::string_view header, Clock::time_point now, milliseconds fallback, milliseconds cap) {
    while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
    while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
    milliseconds wait = fallback;
    std::uint64_t seconds = 0;
    const auto [end, error] = std::from_chars(header.data(), header.data() + header.size(), seconds);
    Clock::time_point date;
    if (!header.empty() && error == std::errc() && end == header.data() + header.size()) {
        wait = seconds > static_cast<std::uint64_t>(cap.count() / 1000 + 1) ? cap : milliseconds(seconds * 1000);
    } else if (error == std::errc::result_out_of_range) {
        wait = cap;
    } else if (!header.empty() && parse_http_date(header, date)) {
        wait = std::chrono::duration_cast<milliseconds>(date - now);
    }
    return std::clamp(wait, milliseconds::zero(), cap);
}

milliseconds renewal_info_recheck(std::string_view retry_after_header, Clock::time_point now) {
    using namespace std::chrono_literals;
    return std::max(retry_after(retry_after_header, now, 6h, 24h), milliseconds(1min));
}

}  // namespace vhostd::acme
