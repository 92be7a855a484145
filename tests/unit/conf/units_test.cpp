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

TEST(FormatDuration, ShowsWholeHoursElseSecondsElseMilliseconds) {
    using namespace std::chrono_literals;
    EXPECT_EQ(format_duration(0ms), "0s");
    EXPECT_EQ(format_duration(500ms), "500ms");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(10s), "10s");
    EXPECT_EQ(format_duration(60s), "60s");
    EXPECT_EQ(format_duration(1h), "1h");
    EXPECT_EQ(format_duration(90min), "5400s");
    EXPECT_EQ(parse_duration(format_duration(90min)), std::chrono::milliseconds(90min));
}

TEST(FormatSize, ShowsTheLargestUnitThatDividesExactly) {
    EXPECT_EQ(format_size(0), "0B");
    EXPECT_EQ(format_size(1000), "1000B");
    EXPECT_EQ(format_size(16 * 1024), "16KiB");
    EXPECT_EQ(format_size(10u * 1024 * 1024), "10MiB");
    EXPECT_EQ(format_size(std::uint64_t{3} << 30), "3GiB");
    EXPECT_EQ(format_size(1536u * 1024 * 1024), "1536MiB");
}

}  // namespace
}  // namespace vhostd::conf
