#include "supervisor/latency_histogram.hpp"

#include <gtest/gtest.h>

using vhostd::supervisor::LatencyHistogram;
using namespace std::chrono_literals;

TEST(LatencyHistogram, EmptyHasNoQuantiles) {
    LatencyHistogram histogram;
    EXPECT_EQ(histogram.count(), 0u);
    EXPECT_EQ(histogram.quantile(0.5), 0ns);
}

TEST(LatencyHistogram, QuantilesAreWithinOneBucket) {
    LatencyHistogram histogram;
    for (int i = 0; i < 90; ++i) histogram.record(50us);
    for (int i = 0; i < 10; ++i) histogram.record(3ms);
    EXPECT_EQ(histogram.count(), 100u);
    const auto p50 = histogram.quantile(0.5);
    EXPECT_GE(p50, 50us);
    EXPECT_LE(p50, 50us * 1.1);
    const auto p99 = histogram.quantile(0.99);
    EXPECT_GE(p99, 3ms);
    EXPECT_LE(p99, 3ms * 1.1);
    EXPECT_LE(histogram.quantile(0.9), 50us * 1.1) << "90 of 100 samples are 50 µs";
}

TEST(LatencyHistogram, ExtremesLandInTheEdgeBuckets) {
    LatencyHistogram histogram;
    histogram.record(0ns);
    histogram.record(10min);
    EXPECT_LE(histogram.quantile(0.5), 1us);
    EXPECT_GE(histogram.quantile(1.0), 60s);
}

TEST(LatencyHistogram, MergeAddsCounts) {
    LatencyHistogram a, b;
    a.record(10us);
    b.record(1ms);
    b.record(1ms);
    a.merge(b);
    EXPECT_EQ(a.count(), 3u);
    EXPECT_GE(a.quantile(0.5), 1ms);
}
