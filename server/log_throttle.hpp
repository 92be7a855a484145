// At most one log line per interval for a failure that can repeat thousands of times a
// second (accept() out of fds: EMFILE), with the count of the ones held back. Pure: the
// caller passes the time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace vhostd::server {

class LogThrottle {
public:
    using Clock = std::chrono::steady_clock;

    explicit LogThrottle(Clock::duration interval) : interval_(interval) {}

    // Called for every failure. Returns the number of failures held back since the last line
    // when this one should be logged, or nullopt when it is to be held back.
    std::optional<std::uint64_t> admit(Clock::time_point now) {
        if (last_ && now - *last_ < interval_) {
            ++held_back_;
            return std::nullopt;
        }
        last_ = now;
        const std::uint64_t held = held_back_;
        held_back_ = 0;
        return held;
    }

private:
    Clock::duration interval_;
    std::optional<Clock::time_point> last_;
    std::uint64_t held_back_ = 0;
};

}  // namespace vhostd::server
