// The ACME server's answers, decoded as the client will: any bytes must give a value or an
// error, never a crash, and a value's URLs are https.
#include "acme/messages.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void expect_https(const std::string& url) {
    if (!url.empty() && !url.starts_with("https://")) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace vhostd::acme;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    if (const auto directory = decode_directory(body); directory.value) {
        expect_https(directory.value->new_nonce);
        expect_https(directory.value->new_order);
    } else if (directory.error.empty()) {
        std::abort();
    }
    if (const auto order = decode_order(body); order.value) {
        for (const std::string& url : order.value->authorizations) expect_https(url);
        expect_https(order.value->finalize);
        if (order.value->error) (void)describe(*order.value->error);
    }
    if (const auto authorization = decode_authorization(body); authorization.value) {
        for (const Challenge& challenge : authorization.value->challenges) {
            expect_https(challenge.url);
            if (challenge.token.find('/') != std::string::npos || challenge.token.find('.') != std::string::npos) std::abort();
        }
    }
    (void)decode_challenge(body);
    (void)decode_account(body);
    if (const auto problem = decode_problem(body); problem.value) (void)describe(*problem.value);
    if (const auto info = decode_renewal_info(body); info.value && info.value->end <= info.value->start) std::abort();
    (void)parse_rfc3339(body);
    return 0;
}
