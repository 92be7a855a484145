// head-reading FILE...: the front's reading of each file as a connection's first bytes, one
// JSON object per line, for the suites in other languages to compare with (the conformance
// suite replays the fuzz corpus against every worker kind with it):
//   {"status":0,"host":"a.test","framing":"chunked","length":63,"received":5}
// status 0 = accepted (length: the head's bytes; for a complete chunked body, received: its
// data size and body_length: its bytes; "body_status":400 for a chunked body the grammar
// refuses; neither while it is incomplete);
// else the status of the refusal; "incomplete": true when the head is not all there.
#include "http/chunked_body.hpp"
#include "http/request_head.hpp"

#include <boost/json.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

using namespace vhostd;

namespace {

boost::json::object reading_of(const std::string& bytes) {
    const http::HeadParseResult parsed = http::parse_request_head(bytes, http::HeadLimits{});
    if (parsed.status == http::HeadStatus::need_more) return {{"incomplete", true}};
    if (parsed.status == http::HeadStatus::error) return {{"status", parsed.http_status}};
    const http::RequestHead& head = parsed.head;
    boost::json::object reading{{"status", 0}, {"host", head.host}, {"length", head.length}};
    switch (head.body) {
        case http::BodyFraming::none: reading["framing"] = "none"; break;
        case http::BodyFraming::content_length:
            reading["framing"] = "length";
            reading["content_length"] = head.content_length;
            break;
        case http::BodyFraming::chunked: {
            reading["framing"] = "chunked";
            const http::ChunkedScan scan = http::scan_chunked_body(std::string_view(bytes).substr(head.length));
            if (scan.status == http::ChunkedStatus::complete) {
                reading["received"] = scan.data_size;
                reading["body_length"] = scan.length;
            }
            if (scan.status == http::ChunkedStatus::error) reading["body_status"] = 400;
            break;
        }
    }
    reading["expect_continue"] = head.expect_continue;
    reading["upgrade"] = head.websocket_upgrade;
    return reading;
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::ifstream file(argv[i], std::ios::binary);
        if (!file) {
            std::cerr << "head-reading: cannot read " << argv[i] << "\n";
            return 1;
        }
        const std::string bytes{std::istreambuf_iterator<char>(file), {}};
        boost::json::object reading = reading_of(bytes);
        reading["file"] = argv[i];
        std::cout << boost::json::serialize(reading) << "\n";
    }
    return 0;
}
