// http/chunked_body: the shared body vectors (tests/vectors/requests.json, "bodies"), which
// the Node and Python workers pass too, and what a scan sees of a body cut anywhere.
#include "http/chunked_body.hpp"

#include "tests/unit/support/vectors.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <string>

namespace vhostd::http {
namespace {

namespace json = boost::json;

const json::array& bodies() {
    static const json::object parsed = test_support::read_vectors("requests.json");
    return parsed.at("bodies").as_array();
}

TEST(ChunkedBody, Vectors) {
    ASSERT_FALSE(bodies().empty());
    for (const auto& entry : bodies()) {
        const auto& vector = entry.as_object();
        SCOPED_TRACE(std::string(vector.at("name").as_string()));
        const std::string body(vector.at("body").as_string());
        const ChunkedScan scan = scan_chunked_body(body);
        if (vector.at("status").as_int64() != 0) {
            EXPECT_EQ(scan.status, ChunkedStatus::error);
            continue;
        }
        ASSERT_EQ(scan.status, ChunkedStatus::complete) << scan.reason;
        EXPECT_EQ(scan.length, body.size());
        EXPECT_EQ(scan.data_size, static_cast<std::size_t>(vector.at("received").as_int64()));
    }
}

// The bytes of a body arrive in pieces: a prefix of a good body needs more, and a prefix of
// a bad one needs more or is already refused, never complete.
TEST(ChunkedBody, EveryPrefix) {
    for (const auto& entry : bodies()) {
        const auto& vector = entry.as_object();
        SCOPED_TRACE(std::string(vector.at("name").as_string()));
        const std::string body(vector.at("body").as_string());
        const bool good = vector.at("status").as_int64() == 0;
        for (std::size_t cut = 0; cut < body.size(); ++cut) {
            const ChunkedScan scan = scan_chunked_body(std::string_view(body).substr(0, cut));
            if (good) {
                EXPECT_EQ(scan.status, ChunkedStatus::need_more) << "cut at " << cut;
            } else {
                EXPECT_NE(scan.status, ChunkedStatus::complete) << "cut at " << cut;
            }
        }
    }
}

// A body read a byte at a time, each scan resumed from the last: the same verdict as one
// scan of the whole, and every resume point at or before the bytes seen so far.
TEST(ChunkedBody, AResumedScanReadsAsAWholeOne) {
    for (const auto& entry : bodies()) {
        const auto& vector = entry.as_object();
        SCOPED_TRACE(std::string(vector.at("name").as_string()));
        const std::string body(vector.at("body").as_string());
        const ChunkedScan whole = scan_chunked_body(body);
        ChunkedScan scan;
        for (std::size_t seen = 0; seen <= body.size(); ++seen) {
            scan = scan_chunked_body(std::string_view(body).substr(0, seen), scan);
            if (scan.status != ChunkedStatus::need_more) break;
            EXPECT_LE(scan.resume_at, seen);
        }
        EXPECT_EQ(scan.status, whole.status);
        if (whole.status == ChunkedStatus::complete) {
            EXPECT_EQ(scan.length, whole.length);
            EXPECT_EQ(scan.data_size, whole.data_size);
        }
    }
}

TEST(ChunkedBody, ResumingSkipsTheChunksAlreadyRead) {
    std::string body;
    for (int i = 0; i < 1000; ++i) body += "1\r\nx\r\n";
    ChunkedScan scan = scan_chunked_body(body + "1\r\n");
    ASSERT_EQ(scan.status, ChunkedStatus::need_more);
    EXPECT_EQ(scan.resume_at, body.size()) << "resumes at the chunk in progress";
    EXPECT_EQ(scan.resume_data_size, 1000u);
    EXPECT_EQ(scan.data_size, 1001u) << "the chunk in progress is announced";
    // Resumed, it does not look back: bytes before resume_at are not read again.
    std::string rest = std::string(body.size(), '!') + "1\r\nx\r\n0\r\nTrailer: 1\r\n";
    scan = scan_chunked_body(rest, scan);
    ASSERT_EQ(scan.status, ChunkedStatus::need_more);
    EXPECT_TRUE(scan.resume_in_trailers);
    scan = scan_chunked_body(rest + "\r\n", scan);
    ASSERT_EQ(scan.status, ChunkedStatus::complete);
    EXPECT_EQ(scan.data_size, 1001u);
    EXPECT_EQ(scan.length, rest.size() + 2);
}

TEST(ChunkedBody, WhatFollowsIsNotPartOfIt) {
    const ChunkedScan scan = scan_chunked_body("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n");
    ASSERT_EQ(scan.status, ChunkedStatus::complete);
    EXPECT_EQ(scan.length, 13u);
    EXPECT_EQ(scan.data_size, 3u);
}

// A size near 2^64 must not wrap the arithmetic: the scan waits for the data it announces,
// and says how much that is, so that a reader can refuse it at once.
TEST(ChunkedBody, AHugeChunkIsAnnouncedNotWrapped) {
    const ChunkedScan scan = scan_chunked_body("FFFFFFFFFFFFFFFE\r\n0\r\n\r\n");
    EXPECT_EQ(scan.status, ChunkedStatus::need_more);
    EXPECT_EQ(scan.data_size, 0xFFFFFFFFFFFFFFFEull);
    const ChunkedScan partial = scan_chunked_body("3\r\nabc\r\n400\r\nxy");
    EXPECT_EQ(partial.status, ChunkedStatus::need_more);
    EXPECT_EQ(partial.data_size, 3u + 0x400u);
}

TEST(ChunkedBody, SizesBeyond64BitsAndLongLines) {
    unsigned long long size = 0;
    EXPECT_TRUE(parse_chunk_size_line("ffffffffffffffff", size));
    EXPECT_EQ(size, ~0ULL);
    EXPECT_TRUE(parse_chunk_size_line("0000000000000000001", size));
    EXPECT_EQ(size, 1u);
    EXPECT_FALSE(parse_chunk_size_line("10000000000000000", size));
    EXPECT_EQ(scan_chunked_body("1;x=" + std::string(max_chunk_line, 'a')).status, ChunkedStatus::error);
    EXPECT_EQ(scan_chunked_body("1;x=" + std::string(max_chunk_line - 8, 'a')).status, ChunkedStatus::need_more);
}

}  // namespace
}  // namespace vhostd::http
