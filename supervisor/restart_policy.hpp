// When a failed process may start again. Pure: no clock, no processes; the pool passes `now`.
//  - Backoff: the delay doubles with each consecutive failure, from `initial` up to
//    `max`; a run of at least healthy_run forgives the failures before it. The workers and
//    the singleton both use it.
//  - RestartPolicy (the workers): that backoff, plus quarantine: more than restart_limit.count
//    failures within restart_limit.window stop every start for restart_limit.cooldown.
#pragma once

#include "conf/config.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>

namespace vhostd::supervisor {

// A process that ran this long before failing starts again after the initial delay.
inline constexpr std::chrono::seconds healthy_run{10};

class Backoff {
public:
    using Duration = std::chrono::steady_clock::duration;

    // A run of at least healthy_run resets the count of consecutive failures.
    void note_run(Duration ran_for);
    // One more failure: the delay before the next start.
    Duration next_delay(const conf::RestartBackoff& settings);
    void reset() { consecutive_failures_ = 0; }
    unsigned consecutive_failures() const { return consecutive_failures_; }

private:
    unsigned consecutive_failures_ = 0;
};

class RestartPolicy {
public:
    using TimePoint = std::chrono::steady_clock::time_point;
    using Duration = std::chrono::steady_clock::duration;

    struct Failure {
        Duration delay;                // before the next start
        bool quarantine_began = false; // this failure put the site in quarantine
    };

    // A worker failed at `now` after running `ran_for` (0 when it could not even start).
    Failure record_failure(TimePoint now, Duration ran_for, const conf::RestartBackoff& backoff,
                           const conf::RestartLimit& limit);
    // Ends a quarantine whose cooldown is over, forgetting the failures: true when it ended.
    bool end_quarantine_if_over(TimePoint now);

    bool quarantined() const { return quarantined_until_.has_value(); }
    std::optional<TimePoint> quarantined_until() const { return quarantined_until_; }
    // A new worker may start now: not quarantined and not backing off.
    bool may_start(TimePoint now) const { return !quarantined_until_ && now >= next_start_at_; }
    TimePoint next_start_at() const { return next_start_at_; }
    // The Retry-After of a 503: the quarantine's seconds left, rounded up; 1 otherwise.
    int retry_after_seconds(TimePoint now) const;
    std::size_t recent_failures() const { return recent_failures_.size(); }

private:
    Backoff backoff_;
    TimePoint next_start_at_{};
    std::deque<TimePoint> recent_failures_;  // within restart_limit.window
    std::optional<TimePoint> quarantined_until_;
};

}  // namespace vhostd::supervisor
