// libFuzzer target: the front's grammar against Beast, the parser the C++ workers hand
// what the grammar accepted (sdk/cpp/request_reader.hpp). Whatever head the grammar
// accepts, Beast must read with the same method, target, version, Host and body framing;
// whatever chunked body http/chunked_body accepts, Beast must read to its end with the
// same number of bytes. Any difference is a request two parts of vhostd read differently.
#include "http/chunked_body.hpp"
#include "http/host.hpp"
#include "http/request_head.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace vhostd;
namespace beast_http = boost::beast::http;

namespace {

// Feeds `bytes` to `parser` as the C++ reader's Beast sees them; false on a Beast error.
template <typename Parser>
bool put_all(Parser& parser, std::string_view bytes, std::size_t& used) {
    boost::beast::error_code error;
    used = 0;
    while (used < bytes.size() && !parser.is_done()) {
        const std::size_t n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), error);
        if (error == beast_http::error::need_more) break;
        if (error) return false;
        if (n == 0) break;
        used += n;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const http::HeadLimits limits;
    const http::HeadParseResult parsed = http::parse_request_head(input, limits);
    if (parsed.status != http::HeadStatus::complete) return 0;
    const http::RequestHead& head = parsed.head;

    // The worker's reader takes the leading empty line out before Beast reads.
    const std::size_t skip = http::leading_empty_line(input);
    const std::string_view head_bytes = input.substr(skip, head.length - skip);
    beast_http::request_parser<beast_http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_head_size));
    parser.body_limit(boost::none);
    parser.eager(false);
    std::size_t used = 0;
    if (!put_all(parser, head_bytes, used) || !parser.is_header_done() || used != head_bytes.size()) __builtin_trap();

    const auto& request = parser.get();
    if (std::string_view(request.method_string()) != head.method) __builtin_trap();
    if (std::string_view(request.target()) != head.target) __builtin_trap();
    if (request.version() != 10 + head.minor_version) __builtin_trap();
    const auto host = request.find(beast_http::field::host);
    if (host != request.end() && http::normalize_host(std::string_view(host->value())) != head.host) __builtin_trap();
    if (parser.chunked() != (head.body == http::BodyFraming::chunked)) __builtin_trap();
    const auto length = parser.content_length();
    if (head.body == http::BodyFraming::content_length) {
        if (!length || *length != head.content_length) __builtin_trap();
    } else if (length && head.body == http::BodyFraming::none) {
        __builtin_trap();
    }

    if (head.body != http::BodyFraming::chunked) return 0;
    const std::string_view body = input.substr(head.length);
    const http::ChunkedScan scan = http::scan_chunked_body(body);
    // A scan resumed where one of the first half stopped reads the body as a whole one does.
    const http::ChunkedScan half = http::scan_chunked_body(body.substr(0, body.size() / 2));
    if (half.status == http::ChunkedStatus::need_more) {
        const http::ChunkedScan resumed = http::scan_chunked_body(body, half);
        if (resumed.status != scan.status || (scan.status == http::ChunkedStatus::complete &&
                                              (resumed.length != scan.length || resumed.data_size != scan.data_size))) {
            __builtin_trap();
        }
    }
    if (scan.status != http::ChunkedStatus::complete) return 0;
    parser.eager(true);
    if (!put_all(parser, body.substr(0, scan.length), used) || !parser.is_done() || used != scan.length) __builtin_trap();
    if (parser.get().body().size() != scan.data_size) __builtin_trap();
    return 0;
}
