// When to try for a certificate: the renewal time of one that is served, the wait after a
// failed attempt, and the server's Retry-After. Pure: times in, times out.
#pragma once

#include <chrono>
#include <string_view>

namespace vhostd::acme {

using Clock = std::chrono::system_clock;

// When `percent_left` of the lifetime [not_before, not_after] is left, moved earlier by up to
// a twentieth of the lifetime by `jitter` (0 to 1), so that certificates obtained together
// are not all renewed in the same minute.
Clock::time_point renewal_time(Clock::time_point not_before, Clock::time_point not_after, unsigned percent_left, double jitter);

// RFC 9773 §4.2: a time chosen uniformly in the CA's suggested window [start, end], by
// `fraction` (0 to 1). A time already past means: renew now.
Clock::time_point time_in_window(Clock::time_point start, Clock::time_point end, double fraction);

// When to ask for a certificate's renewal information again (RFC 9773 §4.3): the answer's
// Retry-After, six hours without one, never sooner than a minute nor later than a day.
std::chrono::milliseconds renewal_info_recheck(std::string_view retry_after_header, Clock::time_point now);

// After `failures` failed attempts in a row (1 or more): `initial`, doubled for each failure
// after the first, at most `max`.
std::chrono::milliseconds retry_delay(unsigned failures, std::chrono::milliseconds initial, std::chrono::milliseconds max);

// Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as a wait from `now`;
// `fallback` when absent or unreadable; never more than `cap`, never negative.
std::chrono::milliseconds retry_after(std::string_view header, Clock::time_point now, std::chrono::milliseconds fallback,
                                      std::chrono::milliseconds cap);

}  // namespace vhostd::acme
