#include "workers/static/byte_range.hpp"

#include <gtest/gtest.h>

using vhostd::static_files::parse_range;
using Kind = vhostd::static_files::RangeRequest::Kind;

TEST(ByteRange, SatisfiableForms) {
    auto r = parse_range("bytes=0-99", 1000);
    EXPECT_EQ(r.kind, Kind::partial);
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.last, 99u);
    r = parse_range("bytes=900-", 1000);
    EXPECT_EQ(r.kind, Kind::partial);
    EXPECT_EQ(r.first, 900u);
    EXPECT_EQ(r.last, 999u);
    r = parse_range("bytes=-100", 1000);
    EXPECT_EQ(r.kind, Kind::partial);
    EXPECT_EQ(r.first, 900u);
    EXPECT_EQ(r.last, 999u);
    r = parse_range("bytes=-5000", 1000);
    EXPECT_EQ(r.first, 0u) << "a suffix longer than the file is the whole file";
    r = parse_range("bytes=990-5000", 1000);
    EXPECT_EQ(r.last, 999u) << "the end is clamped to the file";
    r = parse_range(" Bytes = 1-1 ", 10);
    EXPECT_EQ(r.kind, Kind::partial);
}

TEST(ByteRange, Unsatisfiable) {
    EXPECT_EQ(parse_range("bytes=1000-", 1000).kind, Kind::unsatisfiable);
    EXPECT_EQ(parse_range("bytes=1000-2000", 1000).kind, Kind::unsatisfiable);
    EXPECT_EQ(parse_range("bytes=-0", 1000).kind, Kind::unsatisfiable);
    EXPECT_EQ(parse_range("bytes=0-", 0).kind, Kind::unsatisfiable);
}

TEST(ByteRange, IgnoredAsRfc9110Allows) {
    EXPECT_EQ(parse_range("bytes=5-1", 1000).kind, Kind::whole);
    EXPECT_EQ(parse_range("items=0-1", 1000).kind, Kind::whole);
    EXPECT_EQ(parse_range("bytes=a-b", 1000).kind, Kind::whole);
    EXPECT_EQ(parse_range("bytes=0-1,5-6", 1000).kind, Kind::whole);
    EXPECT_EQ(parse_range("bytes=99999999999999999999-", 1000).kind, Kind::whole);
    EXPECT_EQ(parse_range("bytes", 1000).kind, Kind::whole);
}
