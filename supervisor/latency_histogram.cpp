#include "supervisor/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace vhostd::supervisor {

namespace {

constexpr double unit_ns = 1000.0;  // the first bucket ends at 1 µs

}  // namespace

void LatencyHistogram::record(std::chrono::nanoseconds duration) {
    const double units = std::max(1.0, static_cast<double>(duration.count()) / unit_ns);
    // Bucket b covers (2^(b/8 - 1/8), 2^(b/8)] units.
    const int bucket = static_cast<int>(std::ceil(std::log2(units) * sub_buckets));
    ++buckets_[static_cast<std::size_t>(std::clamp(bucket, 0, static_cast<int>(buckets_.size()) - 1))];
    ++count_;
    sum_ += duration;
}

std::uint64_t LatencyHistogram::count_at_most(std::chrono::nanoseconds limit) const {
    std::uint64_t total = 0;
    for (std::size_t bucket = 0; bucket < buckets_.size(); ++bucket) {
        const double upper = unit_ns * std::exp2(static_cast<double>(bucket) / sub_buckets);
        if (upper > static_cast<double>(limit.count()) * 1.0000001) break;
        total += buckets_[bucket];
    }
    return total;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
    count_ += other.count_;
    sum_ += other.sum_;
}

std::chrono::nanoseconds LatencyHistogram::quantile(double q) const {
    if (count_ == 0) return std::chrono::nanoseconds(0);
    const auto wanted = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    std::uint64_t seen = 0;
    std::size_t bucket = 0;
    for (; bucket < buckets_.size(); ++bucket) {
        seen += buckets_[bucket];
        if (seen >= std::max<std::uint64_t>(wanted, 1)) break;
    }
    const double upper = unit_ns * std::exp2(static_cast<double>(bucket) / sub_buckets);
    return std::chrono::nanoseconds(static_cast<std::int64_t>(upper));
}

}  // namespace vhostd::supervisor
