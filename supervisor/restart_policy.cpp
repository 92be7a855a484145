#include "supervisor/restart_policy.hpp"

#include <algorithm>

namespace vhostd::supervisor {

void Backoff::note_run(Duration ran_for) {
    if (ran_for >= healthy_run) consecutive_failures_ = 0;
}

Backoff::Duration Backoff::next_delay(const conf::RestartBackoff& settings) {
    // Capped shift: past 2^16 the product would only overflow, and max has long been reached.
    const unsigned shift = std::min(consecutive_failures_, 16u);
    ++consecutive_failures_;
    return std::min<Duration>(settings.initial * (1u << shift), settings.max);
}

RestartPolicy::Failure RestartPolicy::record_failure(TimePoint now, Duration ran_for, const conf::RestartBackoff& backoff,
                                                     const conf::RestartLimit& limit) {
    backoff_.note_run(ran_for);
    Failure failure{.delay = backoff_.next_delay(backoff)};
    next_start_at_ = now + failure.delay;

    recent_failures_.push_back(now);
    while (!recent_failures_.empty() && recent_failures_.front() <= now - limit.window) recent_failures_.pop_front();
    if (recent_failures_.size() > limit.count && !quarantined_until_) {
        quarantined_until_ = now + limit.cooldown;
        failure.quarantine_began = true;
    }
    return failure;
}

bool RestartPolicy::end_quarantine_if_over(TimePoint now) {
    if (!quarantined_until_ || now < *quarantined_until_) return false;
    quarantined_until_.reset();
    recent_failures_.clear();
    backoff_.reset();
    next_start_at_ = now;
    return true;
}

int RestartPolicy::retry_after_seconds(TimePoint now) const {
    if (!quarantined_until_) return 1;
    const auto left = std::chrono::ceil<std::chrono::seconds>(*quarantined_until_ - now).count();
    return static_cast<int>(std::max<long long>(left, 1));
}

}  // namespace vhostd::supervisor
