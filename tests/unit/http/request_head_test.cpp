#include "http/request_head.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace vhostd::http {
namespace {

using namespace std::string_literals;

// "GET / HTTP/1.1\r\n" + fields + "\r\n"
std::string get_with(const std::string& fields) { return "GET / HTTP/1.1\r\n" + fields + "\r\n"; }

// ---------------------------------------------------------------------------------------------
// The table: raw bytes -> status, HTTP status, host (complete) or reason (error).

struct HeadCase {
    std::string name;
    std::string raw;
    HeadStatus status = HeadStatus::complete;
    int http_status = 0;
    std::string host;    // when complete
    std::string reason;  // when error
    HeadLimits limits{};
    std::string rfc;     // the section that decides the case
};

// The cases of one group, with the RFC sections that decide them.
std::vector<HeadCase> in_section(const std::string& rfc, std::vector<HeadCase> cases) {
    for (HeadCase& c : cases) c.rfc = rfc;
    return cases;
}

HeadCase ok(std::string name, std::string raw, std::string host) {
    return {std::move(name), std::move(raw), HeadStatus::complete, 0, std::move(host), "", {}, ""};
}

HeadCase more(std::string name, std::string raw) {
    return {std::move(name), std::move(raw), HeadStatus::need_more, 0, "", "", {}, ""};
}

HeadCase bad(std::string name, std::string raw, int http_status, std::string reason) {
    return {std::move(name), std::move(raw), HeadStatus::error, http_status, "", std::move(reason), {}, ""};
}

// Small limits keep the limit cases readable: request line <= 32, head <= 64, fields <= 3.
HeadLimits small_limits() {
    HeadLimits limits;
    limits.max_request_line = 32;
    limits.max_head_size = 64;
    limits.max_fields = 3;
    return limits;
}

HeadCase with_small_limits(HeadCase c) {
    c.limits = small_limits();
    return c;
}

// Failure messages show the case, not a byte dump of the struct.
void PrintTo(const HeadCase& c, std::ostream* os) { *os << c.name << " " << testing::PrintToString(c.raw) << " (" << c.rfc << ")"; }

class ParseRequestHead : public testing::TestWithParam<HeadCase> {};

TEST_P(ParseRequestHead, GivesTheExpectedOutcome) {
    const HeadCase& c = GetParam();
    SCOPED_TRACE(c.rfc);
    const HeadParseResult result = parse_request_head(c.raw, c.limits);
    ASSERT_EQ(result.status, c.status) << "reason: " << result.reason;
    EXPECT_EQ(result.http_status, c.http_status);
    switch (c.status) {
    case HeadStatus::complete:
        EXPECT_EQ(result.head.host, c.host);
        EXPECT_EQ(result.head.length, c.raw.size());
        EXPECT_TRUE(result.reason.empty());
        break;
    case HeadStatus::error:
        EXPECT_EQ(result.reason, c.reason);
        break;
    case HeadStatus::need_more:
        EXPECT_TRUE(result.reason.empty());
        break;
    }
}

std::string case_name(const testing::TestParamInfo<HeadCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Valid, ParseRequestHead, testing::ValuesIn(in_section(
    "RFC 9112 §2.2 (one leading empty line), §3 (request line), §5 (field lines); RFC 9110 §7.2 (Host)", {
    ok("minimal", get_with("Host: example.com\r\n"), "example.com"),
    ok("host_case_port_and_dot_ignored", get_with("Host: Example.COM.:8080\r\n"), "example.com"),
    ok("host_name_any_case", get_with("hOsT: example.com\r\n"), "example.com"),
    ok("host_without_ows", get_with("Host:example.com\r\n"), "example.com"),
    ok("host_with_ows_both_sides", get_with("Host: \t example.com \t\r\n"), "example.com"),
    ok("host_with_empty_port", get_with("Host: example.com:\r\n"), "example.com"),
    ok("host_ipv6", get_with("Host: [::1]:8080\r\n"), "[::1]"),
    ok("host_ipv6_upper_case", get_with("Host: [2001:DB8::1]\r\n"), "[2001:db8::1]"),
    ok("host_ipv4", get_with("Host: 192.0.2.1:80\r\n"), "192.0.2.1"),
    ok("leading_crlf_ignored", "\r\n" + get_with("Host: example.com\r\n"), "example.com"),
    ok("http10_without_host", "GET / HTTP/1.0\r\n\r\n", ""),
    ok("http10_with_host", "GET / HTTP/1.0\r\nHost: Example.com\r\n\r\n", "example.com"),
    ok("fields_around_host", get_with("Accept: */*\r\nHost: example.com\r\nUser-Agent: t/1.0\r\n"), "example.com"),
    ok("empty_field_value", get_with("Host: example.com\r\nX-Empty:\r\nX-Blank: \t \r\n"), "example.com"),
    ok("tab_and_obs_text_in_value", get_with("Host: a.example\r\nX-V: a\tb \xC3\xA9\xFF\r\n"), "a.example"),
    ok("every_tchar_in_name", get_with("Host: a.example\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n"), "a.example"),
    ok("extension_method", "M-SEARCH /x HTTP/1.1\r\nHost: a.example\r\n\r\n", "a.example"),
    ok("options_asterisk", "OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n", "a.example"),
    ok("target_with_query_and_escapes", "GET /a%20b?c=d&e=%ff HTTP/1.1\r\nHost: a.example\r\n\r\n", "a.example")})),
    case_name);

INSTANTIATE_TEST_SUITE_P(AbsoluteForm, ParseRequestHead, testing::ValuesIn(in_section(
    "RFC 9112 §3.2.2 (absolute-form; stricter than the RFC: a Host that differs from the target is refused, so front and worker cannot disagree)", {
    ok("matches_host", "GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n", "example.com"),
    ok("matches_after_normalisation", "GET HTTP://Example.COM.:80/x?y HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
       "example.com"),
    ok("https_without_path", "GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", "example.com"),
    ok("query_right_after_authority", "GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\n\r\n",
       "example.com"),
    ok("ipv6_authority", "GET http://[::1]:8080/ HTTP/1.1\r\nHost: [::1]\r\n\r\n", "[::1]"),
    ok("http10_takes_host_from_target", "GET http://Example.com/ HTTP/1.0\r\n\r\n", "example.com"),
    bad("mismatch", "GET http://other.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
        "Host does not match absolute-form target"),
    bad("mismatch_http10", "GET http://other.example/ HTTP/1.0\r\nHost: example.com\r\n\r\n", 400,
        "Host does not match absolute-form target"),
    bad("still_needs_host_on_11", "GET http://example.com/ HTTP/1.1\r\n\r\n", 400, "missing Host"),
    bad("userinfo", "GET http://user@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
        "userinfo in target"),
    bad("userinfo_with_password", "GET http://u:p@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
        "userinfo in target"),
    bad("empty_authority", "GET http:///x HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "invalid host in target"),
    bad("invalid_authority", "GET http://exa..mple/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
        "invalid host in target"),
    bad("other_scheme", "GET ftp://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
        "invalid request target"),
    bad("scheme_without_slashes", "GET http:example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
        "invalid request target")})),
    case_name);

INSTANTIATE_TEST_SUITE_P(OtherTargetForms, ParseRequestHead, testing::ValuesIn(in_section(
    "RFC 9112 §3.2 (request-target), §3.2.3 (authority-form is for CONNECT only), §3.2.4 (asterisk-form is for OPTIONS only)", {
    bad("asterisk_without_options", "GET * HTTP/1.1\r\nHost: a.example\r\n\r\n", 400,
        "asterisk-form target without OPTIONS"),
    bad("connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400,
        "CONNECT not supported"),
    bad("authority_form_without_connect", "GET example.com:80 HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
        "invalid request target"),
    bad("relative_target", "GET index.html HTTP/1.1\r\nHost: a.example\r\n\r\n", 400, "invalid request target")})),
    case_name);

INSTANTIATE_TEST_SUITE_P(Host, ParseRequestHead, testing::ValuesIn(in_section(
    "RFC 9112 §3.2: 400 for HTTP/1.1 without Host, more than one Host, or an invalid Host; RFC 3986 §3.2.2 (host syntax)", {
    bad("missing", get_with("Accept: */*\r\n"), 400, "missing Host"),
    bad("missing_no_fields", "GET / HTTP/1.1\r\n\r\n", 400, "missing Host"),
    bad("two", get_with("Host: a.example\r\nHost: a.example\r\n"), 400, "more than one Host"),
    bad("two_different_case", get_with("Host: a.example\r\nHOST: b.example\r\n"), 400, "more than one Host"),
    bad("two_on_http10", "GET / HTTP/1.0\r\nHost: a.example\r\nhost: a.example\r\n\r\n", 400, "more than one Host"),
    bad("second_seen_before_end", "GET / HTTP/1.1\r\nHost: a.example\r\nHost:", 400, "more than one Host"),
    bad("empty", get_with("Host:\r\n"), 400, "invalid Host"),
    bad("blank", get_with("Host:  \r\n"), 400, "invalid Host"),
    bad("inner_space", get_with("Host: a example\r\n"), 400, "invalid Host"),
    bad("wildcard", get_with("Host: *.example\r\n"), 400, "invalid Host"),
    bad("comma_list", get_with("Host: a.example, b.example\r\n"), 400, "invalid Host"),
    bad("userinfo", get_with("Host: u@a.example\r\n"), 400, "invalid Host"),
    bad("bad_port", get_with("Host: a.example:65536\r\n"), 400, "invalid Host"),
    bad("unbracketed_ipv6", get_with("Host: ::1\r\n"), 400, "invalid Host"),
    bad("unclosed_ipv6", get_with("Host: [::1\r\n"), 400, "invalid Host"),
    bad("bad_ipv6", get_with("Host: [1::2::3]\r\n"), 400, "invalid Host"),
    bad("empty_label", get_with("Host: a..example\r\n"), 400, "invalid Host"),
    bad("two_trailing_dots", get_with("Host: a.example..\r\n"), 400, "invalid Host")})),
    case_name);

INSTANTIATE_TEST_SUITE_P(FieldSyntax, ParseRequestHead, testing::ValuesIn(in_section(
    "RFC 9112 §5.1 (no whitespace before the colon: 400), §5.2 (obs-fold: 400), §2.2 (bare CR); RFC 9110 §5.1 (field names are tokens), §5.5 (no CR, LF, NUL in values)", {
    bad("space_before_colon", get_with("Host : a.example\r\n"), 400, "whitespace before colon"),
    bad("tab_before_colon", get_with("Host: a.example\r\nX-A\t: b\r\n"), 400, "whitespace before colon"),
    bad("obs_fold", get_with("Host: a.example\r\nX-A: b\r\n c\r\n"), 400, "obs-fold"),
    bad("obs_fold_with_tab", get_with("Host: a.example\r\nX-A: b\r\n\tc\r\n"), 400, "obs-fold"),
    bad("space_before_first_field", get_with(" Host: a.example\r\n"), 400, "obs-fold"),
    bad("no_colon", get_with("Host a.example\r\n"), 400, "whitespace before colon"),
    bad("name_only", get_with("Host: a.example\r\nX-A\r\n"), 400, "field line without colon"),
    bad("empty_name", get_with("Host: a.example\r\n: b\r\n"), 400, "empty field name"),
    bad("separator_in_name", get_with("Host: a.example\r\nX(A): b\r\n"), 400, "invalid character in field name"),
    bad("slash_in_name", get_with("Host: a.example\r\nX/A: b\r\n"), 400, "invalid character in field name"),
    bad("utf8_in_name", get_with("Host: a.example\r\nX\xC3\xA9: b\r\n"), 400, "invalid character in field name"),
    bad("nul_in_name", get_with("Host: a.example\r\nX\0A: b\r\n"s), 400, "invalid character in field name"),
    bad("nul_in_value", get_with("Host: a.example\r\nX-A: b\0c\r\n"s), 400, "control character in field value"),
    bad("nul_in_host", get_with("Host: a.example\0\r\n"s), 400, "control character in field value"),
    bad("soh_in_value", get_with("Host: a.example\r\nX-A: \x01\r\n"), 400, "control character in field value"),
    bad("vt_in_value", get_with("Host: a.example\r\nX-A: a\vb\r\n"), 400, "control character in field value"),
    bad("ff_in_value", get_with("Host: a.example\r\nX-A: a\fb\r\n"), 400, "control character in field value"),
    bad("esc_in_value", get_with("Host: a.example\r\nX-A: \x1b[0m\r\n"), 400, "control character in field value"),
    bad("del_in_value", get_with("Host: a.example\r\nX-A: a\x7f\r\n"), 400, "control character in field value"),
    bad("bare_cr_in_value", get_with("Host: a.example\r\nX-A: a\rb\r\n"), 400, "CR without LF"),
    bad("cr_cr_lf", get_with("Host: a.example\r\r\n"), 400, "CR without LF"),
    bad("bare_cr_line_end", "GET / HTTP/1.1\rHost: a.example\r\n\r\n", 400, "CR without LF"),
    bad("bare_cr_before_end", get_with("Host: a.example\r\n\r"), 400, "CR without LF"),
    bad("cr_starting_a_line", "GET / HTTP/1.1\r\nHost: a.example\r\n\rX: y\r\n\r\n", 400, "CR without LF")})),
    case_name);

INSTANTIATE_TEST_SUITE_P(RequestLine, ParseRequestHead, testing::ValuesIn(in_section(
    "RFC 9112 §3 (method SP target SP version, single spaces), §2.3 (HTTP-version); RFC 9110 §15.6.6 (505); RFC 9113 §3.4 (the HTTP/2 preface is not HTTP/1.1)", {
    bad("two_spaces_before_target", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty target"),
    bad("two_spaces_before_version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid HTTP version"),
    bad("trailing_space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "invalid HTTP version"),
    bad("leading_space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty method"),
    bad("tab_separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in method"),
    bad("extra_part", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", 400, "invalid HTTP version"),
    bad("method_only", "GET\r\nHost: a\r\n\r\n", 400, "missing request target"),
    bad("no_version", "GET /\r\nHost: a\r\n\r\n", 400, "missing HTTP version"),
    bad("http09_style", "GET /\r\n\r\n", 400, "missing HTTP version"),
    bad("empty_after_leading_empty_line", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty request line"),
    bad("two_leading_lfs", "\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty request line"),
    bad("separator_in_method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in method"),
    bad("nul_in_method", "GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n"s, 400, "invalid character in method"),
    bad("nul_in_target", "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"s, 400, "invalid character in target"),
    bad("tab_in_target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in target"),
    bad("del_in_target", "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in target"),
    bad("utf8_in_target", "GET /\xC3\xA9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in target"),
    bad("space_in_target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid HTTP version"),
    bad("cr_in_request_line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CR without LF"),
    bad("cr_first", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CR without LF"),
    bad("lower_case_version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "invalid HTTP version"),
    bad("version_without_minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400, "invalid HTTP version"),
    bad("version_two_digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "invalid HTTP version"),
    bad("version_garbage", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400, "invalid HTTP version"),
    bad("tls_client_hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s, 400, "invalid character in method"),
    bad("http20", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "unsupported HTTP version"),
    bad("http12", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "unsupported HTTP version"),
    bad("http09", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "unsupported HTTP version"),
    bad("http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "unsupported HTTP version"),
    bad("http2_preface_first_line_only", "PRI * HTTP/2.0\r\n", 505, "unsupported HTTP version"),
    ok("http11_values", "DELETE /items/1 HTTP/1.1\r\nHost: a\r\n\r\n", "a")})),
    case_name);

INSTANTIATE_TEST_SUITE_P(LineEnds, ParseRequestHead, testing::ValuesIn(in_section(
    "RFC 9112 §2.2 (a recipient MAY read a lone LF as a line end: parsers differ, so vhostd never does)", {
    bad("lone_lf_everywhere", "GET / HTTP/1.1\nHost: example.com\n\n", 400, "LF without CR"),
    bad("lone_lf_after_request_line", "GET / HTTP/1.1\nHost: example.com\r\n\r\n", 400, "LF without CR"),
    bad("lone_lf_after_field", get_with("Host: example.com\n"), 400, "LF without CR"),
    bad("lone_lf_ends_head", "GET / HTTP/1.1\r\nHost: example.com\r\n\n", 400, "LF without CR"),
    bad("leading_lone_lf", "\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "empty request line")})),
    case_name);

INSTANTIATE_TEST_SUITE_P(Framing, ParseRequestHead, testing::ValuesIn(in_section(
    "RFC 9112 §6.1 (Transfer-Encoding), §6.3 (message body length), §7.1 (chunked); RFC 9110 §8.6 (Content-Length), §10.1.1 (Expect)", {
    ok("content_length", get_with("Host: a\r\nContent-Length: 5\r\n"), "a"),
    ok("content_length_zero", get_with("Host: a\r\nContent-Length: 0\r\n"), "a"),
    ok("content_length_leading_zeros", get_with("Host: a\r\nContent-Length: 007\r\n"), "a"),
    ok("content_length_repeated_equal", get_with("Host: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n"), "a"),
    ok("content_length_max", get_with("Host: a\r\nContent-Length: 18446744073709551615\r\n"), "a"),
    bad("content_length_conflicting", get_with("Host: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n"), 400,
        "conflicting Content-Length"),
    bad("content_length_list", get_with("Host: a\r\nContent-Length: 5, 5\r\n"), 400, "invalid Content-Length"),
    bad("content_length_plus", get_with("Host: a\r\nContent-Length: +3\r\n"), 400, "invalid Content-Length"),
    bad("content_length_minus", get_with("Host: a\r\nContent-Length: -1\r\n"), 400, "invalid Content-Length"),
    bad("content_length_empty", get_with("Host: a\r\nContent-Length:\r\n"), 400, "invalid Content-Length"),
    bad("content_length_hex", get_with("Host: a\r\nContent-Length: 0x5\r\n"), 400, "invalid Content-Length"),
    bad("content_length_inner_space", get_with("Host: a\r\nContent-Length: 1 2\r\n"), 400, "invalid Content-Length"),
    bad("content_length_superscript_two", get_with("Host: a\r\nContent-Length: \xC2\xB2\r\n"), 400,
        "invalid Content-Length"),
    bad("content_length_10_pow_23", get_with("Host: a\r\nContent-Length: 100000000000000000000000\r\n"), 400,
        "invalid Content-Length"),
    bad("content_length_2_pow_64", get_with("Host: a\r\nContent-Length: 18446744073709551616\r\n"), 400,
        "invalid Content-Length"),
    ok("chunked", get_with("Host: a\r\nTransfer-Encoding: chunked\r\n"), "a"),
    ok("chunked_any_case", get_with("Host: a\r\nTransfer-Encoding: ChUnKeD\r\n"), "a"),
    bad("chunked_with_content_length", get_with("Host: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400,
        "Transfer-Encoding with Content-Length"),
    bad("content_length_then_chunked", get_with("Host: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400,
        "Transfer-Encoding with Content-Length"),
    bad("identity", get_with("Host: a\r\nTransfer-Encoding: identity\r\n"), 400, "chunked is not the final transfer coding"),
    bad("gzip_only", get_with("Host: a\r\nTransfer-Encoding: gzip\r\n"), 400, "chunked is not the final transfer coding"),
    bad("chunked_then_gzip", get_with("Host: a\r\nTransfer-Encoding: chunked, gzip\r\n"), 400,
        "chunked is not the final transfer coding"),
    bad("chunked_twice", get_with("Host: a\r\nTransfer-Encoding: chunked, chunked\r\n"), 400,
        "chunked is not the final transfer coding"),
    bad("chunked_then_second_field", get_with("Host: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"), 400,
        "chunked is not the final transfer coding"),
    bad("gzip_then_chunked", get_with("Host: a\r\nTransfer-Encoding: gzip, chunked\r\n"), 501, "transfer coding not supported"),
    bad("gzip_field_then_chunked_field", get_with("Host: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
        501, "transfer coding not supported"),
    bad("empty_coding", get_with("Host: a\r\nTransfer-Encoding: , chunked\r\n"), 400, "invalid Transfer-Encoding"),
    bad("empty_transfer_encoding", get_with("Host: a\r\nTransfer-Encoding:\r\n"), 400, "invalid Transfer-Encoding"),
    bad("coding_with_parameter", get_with("Host: a\r\nTransfer-Encoding: chunked;q=1\r\n"), 400, "invalid Transfer-Encoding"),
    bad("chunked_on_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Transfer-Encoding in HTTP/1.0"),
    ok("expect_continue", get_with("Host: a\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n"), "a"),
    bad("expect_other", get_with("Host: a\r\nExpect: 200-ok\r\n"), 417, "unsupported expectation")})),
    case_name);

// Small limits: request line <= 32, head <= 64, fields <= 3.
// "GET /" + 18 x "a" + " HTTP/1.1" is exactly 32 bytes.
const std::string line_32 = "GET /" + std::string(18, 'a') + " HTTP/1.1";
const std::string line_33 = "GET /" + std::string(19, 'a') + " HTTP/1.1";

INSTANTIATE_TEST_SUITE_P(Limits, ParseRequestHead, testing::ValuesIn(in_section(
    "RFC 9112 §3 and RFC 9110 §15.5.15 (414 for a long request line); RFC 6585 §5 (431 for fields too large or too many)", {
    with_small_limits(ok("request_line_at_limit", line_32 + "\r\nHost: a\r\n\r\n", "a")),
    with_small_limits(bad("request_line_over_limit", line_33 + "\r\nHost: a\r\n\r\n", 414, "request line too long")),
    with_small_limits(bad("request_line_over_limit_lf", line_33 + "\nHost: a\n\n", 414, "request line too long")),
    with_small_limits(bad("partial_request_line_over_limit", line_33, 414, "request line too long")),
    with_small_limits(more("partial_request_line_at_limit_with_cr", line_32 + "\r")),
    with_small_limits(more("leading_empty_line_not_counted", "\r\n" + line_32)),
    with_small_limits(bad("bad_byte_in_long_request_line", "GE\x01" + std::string(40, 'A'), 400,
                          "invalid character in method")),
    with_small_limits(bad("long_request_line_with_bad_version", line_33 + "x\r\nHost: a\r\n\r\n", 414,
                          "request line too long")),
    with_small_limits(bad("garbage_without_lf", std::string(40, 'A'), 414, "request line too long")),
    // 34 + 9 + 19 + 2 = 64 bytes.
    with_small_limits(ok("head_at_limit", line_32 + "\r\nHost: a\r\nX: " + std::string(14, 'v') + "\r\n\r\n", "a")),
    with_small_limits(bad("head_over_limit_by_final_lf", line_32 + "\r\nHost: a\r\nX: " + std::string(15, 'v') + "\r\n\r\n",
                          431, "head too large")),
    with_small_limits(bad("no_end_at_limit", line_32 + "\r\nHost: a\r\nX: " + std::string(18, 'v'), 431,
                          "head too large")),
    with_small_limits(more("no_end_below_limit", line_32 + "\r\nHost: a\r\nX: " + std::string(17, 'v'))),
    with_small_limits(bad("leading_empty_line_counts_in_head",
                          "\r\n" + line_32 + "\r\nHost: a\r\nX: " + std::string(14, 'v') + "\r\n\r\n", 431,
                          "head too large")),
    with_small_limits(ok("fields_at_limit", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", "a")),
    with_small_limits(bad("fields_over_limit", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431,
                          "too many fields")),
    with_small_limits(bad("fields_over_limit_before_end", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC", 431,
                          "too many fields")),
    bad("default_request_line_limit", "GET /" + std::string(8200, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414,
        "request line too long"),
    bad("default_head_limit", get_with("Host: a\r\nX: " + std::string(16 * 1024, 'v') + "\r\n"), 431,
        "head too large"),
    bad("default_field_limit", [] {
        std::string fields = "Host: a\r\n";
        for (int i = 0; i < 100; ++i) fields += "X: 1\r\n";
        return get_with(fields);
    }(), 431, "too many fields")})),
    case_name);

// ---------------------------------------------------------------------------------------------
// What a complete head carries besides the host.

HeadParseResult parse(std::string_view bytes) { return parse_request_head(bytes, HeadLimits{}); }

TEST(ParseRequestHeadValues, MethodTargetVersion) {
    const HeadParseResult result = parse("POST /a?b=c HTTP/1.0\r\nHost: a.example\r\n\r\n");
    ASSERT_EQ(result.status, HeadStatus::complete);
    EXPECT_EQ(result.head.method, "POST");
    EXPECT_EQ(result.head.target, "/a?b=c");
    EXPECT_EQ(result.head.minor_version, 0);
    EXPECT_EQ(result.head.host, "a.example");
    EXPECT_FALSE(result.head.websocket_upgrade);
    EXPECT_EQ(result.head.length, 41u);

    const HeadParseResult absolute = parse("GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n");
    ASSERT_EQ(absolute.status, HeadStatus::complete);
    EXPECT_EQ(absolute.head.target, "http://a.example/x");
    EXPECT_EQ(absolute.head.minor_version, 1);
}

TEST(ParseRequestHeadValues, LengthStopsAtTheEndOfTheHead) {
    const std::string head = "POST /upload HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\n";
    const HeadParseResult result = parse(head + "hello" + "GET / HTTP/1.1\r\n");
    ASSERT_EQ(result.status, HeadStatus::complete);
    EXPECT_EQ(result.head.length, head.size());

    const std::string with_leading_line = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const HeadParseResult leading = parse(with_leading_line + "body\x00\x01"s);
    ASSERT_EQ(leading.status, HeadStatus::complete);
    EXPECT_EQ(leading.head.length, with_leading_line.size());
}

struct WebSocketCase {
    std::string fields;
    bool upgrade;
};

void PrintTo(const WebSocketCase& c, std::ostream* os) { *os << testing::PrintToString(c.fields); }

class WebSocketDetection : public testing::TestWithParam<WebSocketCase> {};

TEST_P(WebSocketDetection, NeedsUpgradeAndConnection) {
    const WebSocketCase& c = GetParam();
    const HeadParseResult result = parse(get_with("Host: a.example\r\n" + c.fields));
    ASSERT_EQ(result.status, HeadStatus::complete) << result.reason;
    EXPECT_EQ(result.head.websocket_upgrade, c.upgrade) << c.fields;
}

INSTANTIATE_TEST_SUITE_P(Fields, WebSocketDetection, testing::Values(
    WebSocketCase{"Upgrade: websocket\r\nConnection: Upgrade\r\n", true},
    WebSocketCase{"Connection: upgrade\r\nUpgrade: websocket\r\n", true},
    WebSocketCase{"upgrade: WebSocket\r\nCONNECTION: keep-alive, Upgrade\r\n", true},
    WebSocketCase{"Upgrade: h2c, websocket\r\nConnection: keep-alive\r\nConnection: upgrade\r\n", true},
    WebSocketCase{"Upgrade: foo\r\nUpgrade:websocket,\r\nConnection:,\tupgrade\t,\r\n", true},
    WebSocketCase{"Upgrade: websocket\r\n", false},
    WebSocketCase{"Connection: Upgrade\r\n", false},
    WebSocketCase{"Upgrade: websockets\r\nConnection: Upgrade\r\n", false},
    WebSocketCase{"Upgrade: websocket\r\nConnection: upgraded\r\n", false},
    WebSocketCase{"Upgrade: websocket\r\nConnection: keep-alive\r\n", false},
    WebSocketCase{"Upgrade: h2c\r\nConnection: Upgrade\r\n", false},
    WebSocketCase{"X-Upgrade: websocket\r\nConnection: Upgrade\r\n", false},
    WebSocketCase{"Upgrade: web socket\r\nConnection: Upgrade\r\n", false},
    WebSocketCase{"", false}));

// ---------------------------------------------------------------------------------------------
// Feeding the bytes as they arrive.

TEST(ParseRequestHeadValues, BodyFraming) {
    const HeadParseResult none = parse(get_with("Host: a\r\n"));
    ASSERT_EQ(none.status, HeadStatus::complete);
    EXPECT_EQ(none.head.body, BodyFraming::none);
    EXPECT_FALSE(none.head.expect_continue);

    const HeadParseResult length = parse(get_with("Host: a\r\nContent-Length: 0042\r\nExpect: 100-continue\r\n"));
    ASSERT_EQ(length.status, HeadStatus::complete);
    EXPECT_EQ(length.head.body, BodyFraming::content_length);
    EXPECT_EQ(length.head.content_length, 42u);
    EXPECT_TRUE(length.head.expect_continue);

    const HeadParseResult chunked = parse(get_with("Host: a\r\nTransfer-Encoding: chunked\r\n"));
    ASSERT_EQ(chunked.status, HeadStatus::complete);
    EXPECT_EQ(chunked.head.body, BodyFraming::chunked);
}

class IncrementalFeeding : public testing::TestWithParam<std::string> {};

TEST_P(IncrementalFeeding, EveryPrefixNeedsMoreAndTheWholeIsComplete) {
    const std::string& head = GetParam();
    for (std::size_t size = 0; size < head.size(); ++size) {
        const HeadParseResult result = parse(std::string_view(head).substr(0, size));
        ASSERT_EQ(result.status, HeadStatus::need_more)
            << "prefix of " << size << " bytes: " << result.http_status << " " << result.reason;
    }
    const HeadParseResult result = parse(head);
    ASSERT_EQ(result.status, HeadStatus::complete) << result.reason;
    EXPECT_EQ(result.head.length, head.size());
}

INSTANTIATE_TEST_SUITE_P(Heads, IncrementalFeeding, testing::Values(
    get_with("Host: example.com\r\n"),
    "\r\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    get_with("Host: a.example\r\nContent-Length: 5\r\nContent-length: 5\r\nExpect: 100-continue\r\n"),
    get_with("Host: a.example\r\nTransfer-Encoding: chunked\r\n"),
    "GET / HTTP/1.0\r\n\r\n",
    "GET http://Example.com:8080/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
    get_with("Host: a.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Empty:\r\nX: \xC3\xA9 \r\n")));

// Once an error is seen, more bytes never turn it into anything else.
TEST(IncrementalFeedingErrors, AnErrorIsFoundAsSoonAsItsByteArrivesAndStays) {
    struct Expectation {
        std::string head;
        std::size_t first_bad_size;  // shortest prefix that is already an error
        int http_status;
    };
    const std::string request_line = "GET / HTTP/1.1\r\n";
    const std::vector<Expectation> expectations = {
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", request_line.size() + 9 + 5, 400},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", request_line.size() + 5, 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", request_line.size() + 9 + 4, 400},
        {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", request_line.size() + 9 + 1, 400},
        {"GE\0T / HTTP/1.1\r\n\r\n"s, 3, 400},
        {"GET / HTTP/1.1x\r\n\r\n", 15, 400},
        {"GET / HTTP/2.0\r\n\r\n", 16, 505},  // 505 needs the whole version
        {"GET / HTTP/1.1\nHost: a\r\n\r\n", 15, 400},
        {"GET / HTTP/1.1\r\nHost: a\n\r\n", request_line.size() + 8, 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", request_line.size() + 9 + 19 + 19, 400},
        {"\x16\x03\x01\x02", 1, 400},
        {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 8193, 414},
    };
    for (const Expectation& e : expectations) {
        SCOPED_TRACE(testing::PrintToString(e.head));
        for (std::size_t size = 0; size < e.first_bad_size; ++size) {
            EXPECT_EQ(parse(std::string_view(e.head).substr(0, size)).status, HeadStatus::need_more) << size;
        }
        for (std::size_t size = e.first_bad_size; size <= e.head.size(); ++size) {
            const HeadParseResult result = parse(std::string_view(e.head).substr(0, size));
            EXPECT_EQ(result.status, HeadStatus::error) << size;
            EXPECT_EQ(result.http_status, e.http_status) << size;
        }
    }
}

}  // namespace
}  // namespace vhostd::http
