#include "conf/units.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace vhostd::conf {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsEachUnit) {
    EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
    EXPECT_EQ(parse_duration("10s"), milliseconds(10'000));
    EXPECT_EQ(parse_duration("5m"), milliseconds(300'000));
    EXPECT_EQ(parse_duration("1h"), milliseconds(3'600'000));
}

TEST(ParseDuration, AcceptsZeroAndLeadingZeros) {
    EXPECT_EQ(parse_duration("0s"), milliseconds(0));
    EXPECT_EQ(parse_duration("007ms"), milliseconds(7));
}

TEST(ParseDuration, RejectsMalformedText) {
    for (const char* text : {"", "10", "s", "ms", "1.5s", "-1s", "+1s", " 1s", "1s ", "1 s", "10S", "10sec",
                             "1d", "1h30m", "0x10s"}) {
        EXPECT_EQ(parse_duration(text), std::nullopt) << '"' << text << '"';
    }
}

TEST(ParseDuration, RejectsValuesPastTheMillisecondRange) {
    const auto max = std::numeric_limits<milliseconds::rep>::max();
    EXPECT_EQ(parse_duration("9223372036854775807ms"), milliseconds(max));
    EXPECT_EQ(parse_duration("9223372036854775808ms"), std::nullopt);
    EXPECT_EQ(parse_duration("2562047788015h"), milliseconds(2562047788015 * 3'600'000));
    EXPECT_EQ(parse_duration("2562047788016h"), std::nullopt);
    EXPECT_EQ(parse_duration("153722867280913m"), std::nullopt);
    EXPECT_EQ(parse_duration("99999999999999999999s"), std::nullopt);
}

TEST(ParseSize, AcceptsEachUnit) {
    EXPECT_EQ(parse_size("512B"), 512u);
    EXPECT_EQ(parse_size("16KiB"), 16u * 1024);
    EXPECT_EQ(parse_size("512MiB"), 512u * 1024 * 1024);
    EXPECT_EQ(parse_size("1GiB"), 1024u * 1024 * 1024);
    EXPECT_EQ(parse_size("0B"), 0u);
}

TEST(ParseSize, RejectsDecimalAndMalformedUnits) {
    for (const char* text : {"", "16", "KiB", "16KB", "16kib", "16K", "16 KiB", "1.5GiB", "-1B", "+1B", "16KiBs",
                             "1TiB"}) {
        EXPECT_EQ(parse_size(text), std::nullopt) << '"' << text << '"';
    }
}

TEST(ParseSize, RejectsValuesPastSixtyFourBits) {
    EXPECT_EQ(parse_size("18446744073709551615B"), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(parse_size("18446744073709551616B"), std::nullopt);
    EXPECT_EQ(parse_size("17179869183GiB"), std::uint64_t{17179869183} << 30);
    EXPECT_EQ(parse_size("17179869184GiB"), std::nullopt);
    EXPECT_EQ(parse_size("17592186044416MiB"), std::nullopt);
}

}  // namespace
}  // namespace vhostd::conf
