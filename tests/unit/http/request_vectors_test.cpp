// The shared request vectors (tests/vectors/requests.json), read by the front's parser: the
// same file the Python SDK's parser and the conformance suite (every worker kind) run.
#include "http/request_head.hpp"

#include "tests/unit/support/vectors.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <string>

namespace vhostd::http {
namespace {

namespace json = boost::json;

const json::object& vectors() {
    static const json::object parsed = test_support::read_vectors("requests.json");
    return parsed;
}

using test_support::text;

// A case's head, with "<repeat>" expanded as the file's _about says.
std::string head_of(const json::object& vector) {
    std::string head = text(vector.at("head"));
    if (const auto* repeat = vector.if_contains("repeat")) {
        std::string filler;
        for (std::int64_t i = 0; i < repeat->at("count").as_int64(); ++i) filler += text(repeat->at("text"));
        head.replace(head.find("<repeat>"), std::string_view("<repeat>").size(), filler);
    }
    return head;
}

std::string body_of(const json::object& vector) {
    const auto* body = vector.if_contains("body");
    return body ? text(*body) : std::string();
}

const char* framing_name(BodyFraming framing) {
    switch (framing) {
        case BodyFraming::none: return "none";
        case BodyFraming::content_length: return "length";
        case BodyFraming::chunked: return "chunked";
    }
    return "?";
}

TEST(RequestVectors, AreThere) {
    EXPECT_GT(vectors().at("heads").as_array().size(), 100u);
    EXPECT_FALSE(vectors().at("bodies").as_array().empty());
    EXPECT_FALSE(vectors().at("connections").as_array().empty());
}

TEST(RequestVectors, Heads) {
    for (const auto& entry : vectors().at("heads").as_array()) {
        const auto& vector = entry.as_object();
        const std::string head = head_of(vector);
        SCOPED_TRACE(text(vector.at("name")));
        const HeadParseResult result = parse_request_head(head + body_of(vector), HeadLimits{});
        const auto status = vector.at("status").as_int64();
        if (status != 0) {
            EXPECT_EQ(result.status, HeadStatus::error);
            EXPECT_EQ(result.http_status, status) << result.reason;
            continue;
        }
        ASSERT_EQ(result.status, HeadStatus::complete) << result.http_status << " " << result.reason;
        EXPECT_EQ(result.head.host, text(vector.at("host")));
        EXPECT_EQ(framing_name(result.head.body), text(vector.at("framing")));
        EXPECT_EQ(result.head.length, head.size());
        if (const auto* length = vector.if_contains("content_length")) {
            EXPECT_EQ(result.head.content_length, length->as_int64());
        }
        EXPECT_EQ(result.head.expect_continue, vector.contains("expect_continue"));
    }
}

// The front parses whatever part of a head has arrived: a prefix is refused with the case's
// own status, or needs more, and a prefix of an accepted head only ever needs more.
TEST(RequestVectors, EveryPrefixAgrees) {
    for (const auto& entry : vectors().at("heads").as_array()) {
        const auto& vector = entry.as_object();
        const std::string head = head_of(vector);
        if (head.size() > 1024) continue;
        SCOPED_TRACE(text(vector.at("name")));
        const auto status = vector.at("status").as_int64();
        for (std::size_t cut = 0; cut < head.size(); ++cut) {
            const HeadParseResult result = parse_request_head(std::string_view(head).substr(0, cut), HeadLimits{});
            if (result.status == HeadStatus::error) {
                EXPECT_EQ(result.http_status, status) << "cut at " << cut << ": " << result.reason;
            } else {
                EXPECT_EQ(result.status, HeadStatus::need_more) << "cut at " << cut;
            }
        }
    }
}

}  // namespace
}  // namespace vhostd::http
