// The ACME server's JSON, from RFC 8555's own examples and as pebble sends it, and the
// answers a broken or hostile server could give: each a clear error, never a crash.
#include "acme/messages.hpp"

#include <gtest/gtest.h>

namespace vhostd::acme {
namespace {

TEST(DecodeDirectory, ReadsTheUrlsAndMeta) {
    const auto decoded = decode_directory(R"({
      "newNonce": "https://example.com/acme/new-nonce",
      "newAccount": "https://example.com/acme/new-account",
      "newOrder": "https://example.com/acme/new-order",
      "newAuthz": "https://example.com/acme/new-authz",
      "revokeCert": "https://example.com/acme/revoke-cert",
      "keyChange": "https://example.com/acme/key-change",
      "renewalInfo": "https://example.com/acme/renewal-info",
      "meta": {"termsOfService": "https://example.com/acme/terms/2017-5-30", "website": "https://www.example.com/",
               "caaIdentities": ["example.com"], "externalAccountRequired": false}})");
    ASSERT_TRUE(decoded.value) << decoded.error;
    const Directory& directory = *decoded.value;
    EXPECT_EQ(directory.new_nonce, "https://example.com/acme/new-nonce");
    EXPECT_EQ(directory.new_account, "https://example.com/acme/new-account");
    EXPECT_EQ(directory.new_order, "https://example.com/acme/new-order");
    EXPECT_EQ(directory.renewal_info, "https://example.com/acme/renewal-info");
    EXPECT_EQ(directory.terms_of_service, "https://example.com/acme/terms/2017-5-30");
    EXPECT_FALSE(directory.external_account_required);
}

TEST(DecodeDirectory, SaysWhatIsWrong) {
    EXPECT_EQ(decode_directory("<html>502 Bad Gateway</html>").error.substr(0, 32), "the ACME directory: not JSON (sy");
    EXPECT_EQ(decode_directory("[1]").error, "the ACME directory: not a JSON object");
    EXPECT_EQ(decode_directory(R"({"newNonce":"https://a/n","newAccount":"https://a/a"})").error,
              "the ACME directory: \"newOrder\" is missing");
    EXPECT_EQ(decode_directory(R"({"newNonce":"http://a/n","newAccount":"https://a/a","newOrder":"https://a/o"})").error,
              "the ACME directory: \"newNonce\" is not an https URL");
    EXPECT_EQ(decode_directory(R"({"newNonce":"https://a/n x","newAccount":"https://a/a","newOrder":"https://a/o"})").error,
              "the ACME directory: \"newNonce\" is not an https URL");
    EXPECT_EQ(decode_directory(R"({"newNonce":7,"newAccount":"https://a/a","newOrder":"https://a/o"})").error,
              "the ACME directory: \"newNonce\" is not a string");
    EXPECT_FALSE(decode_directory(std::string(40, '[') + std::string(40, ']')).value) << "nesting is bounded";
}

TEST(DecodeOrder, ReadsAPendingAndAValidOrder) {
    const auto pending = decode_order(R"({
      "status": "pending", "expires": "2016-01-05T14:09:07.99Z",
      "identifiers": [{"type": "dns", "value": "www.example.org"}, {"type": "dns", "value": "example.org"}],
      "authorizations": ["https://example.com/acme/authz/PAniVnsZcis", "https://example.com/acme/authz/r4HqLzrSrpI"],
      "finalize": "https://example.com/acme/order/TOlocE8rfgo/finalize"})");
    ASSERT_TRUE(pending.value) << pending.error;
    EXPECT_EQ(pending.value->status, Status::pending);
    ASSERT_EQ(pending.value->identifiers.size(), 2u);
    EXPECT_EQ(pending.value->identifiers[1].value, "example.org");
    EXPECT_EQ(pending.value->authorizations.size(), 2u);
    EXPECT_EQ(pending.value->finalize, "https://example.com/acme/order/TOlocE8rfgo/finalize");
    EXPECT_TRUE(pending.value->certificate.empty());

    const auto valid = decode_order(R"({"status":"valid","identifiers":[{"type":"dns","value":"a.test"}],
      "authorizations":["https://ca/authz/1"],"finalize":"https://ca/fin/1","certificate":"https://ca/cert/1"})");
    ASSERT_TRUE(valid.value) << valid.error;
    EXPECT_EQ(valid.value->certificate, "https://ca/cert/1");
}

TEST(DecodeOrder, AnInvalidOrderCarriesItsProblem) {
    const auto invalid = decode_order(R"({"status":"invalid","identifiers":[],"authorizations":[],"finalize":"https://ca/f",
      "error":{"type":"urn:ietf:params:acme:error:connection","detail":"connection refused","status":400,
               "subproblems":[{"type":"urn:ietf:params:acme:error:dns","detail":"no A record","identifier":{"type":"dns","value":"a.test"}}]}})");
    ASSERT_TRUE(invalid.value) << invalid.error;
    ASSERT_TRUE(invalid.value->error);
    EXPECT_EQ(describe(*invalid.value->error),
              "urn:ietf:params:acme:error:connection: connection refused (HTTP 400); urn:ietf:params:acme:error:dns: no A record");
}

TEST(DecodeOrder, SaysWhatIsWrong) {
    EXPECT_EQ(decode_order(R"({"status":"done","identifiers":[],"authorizations":[],"finalize":"https://ca/f"})").error,
              "the ACME order: \"status\" is not an ACME status: \"done\"");
    EXPECT_EQ(decode_order(R"({"status":"valid","identifiers":[],"authorizations":[],"finalize":"https://ca/f"})").error,
              "the ACME order: valid, but has no \"certificate\"");
    EXPECT_EQ(decode_order(R"({"status":"pending","identifiers":[],"authorizations":["ftp://ca/a"],"finalize":"https://ca/f"})").error,
              "the ACME order: an authorization is not an https URL");
    EXPECT_EQ(decode_order(R"({"status":"pending","identifiers":[3],"authorizations":[],"finalize":"https://ca/f"})").error,
              "the ACME order: an identifier is not an object");
}

TEST(DecodeAuthorization, ReadsItsChallenges) {
    const auto decoded = decode_authorization(R"({
      "status": "pending", "expires": "2016-01-02T14:09:30Z",
      "identifier": {"type": "dns", "value": "www.example.org"},
      "challenges": [
        {"type": "http-01", "url": "https://example.com/acme/chall/prV_B7yEyA4", "status": "pending",
         "token": "DGyRejmCefe7v4NfDGDKfA"},
        {"type": "tls-alpn-01", "url": "https://example.com/acme/chall/L9_8bR2yLds", "status": "pending",
         "token": "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"},
        {"type": "dns-01", "url": "https://example.com/acme/chall/Rg5dV14Gh1Q", "status": "pending",
         "token": "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"}]})");
    ASSERT_TRUE(decoded.value) << decoded.error;
    EXPECT_EQ(decoded.value->identifier.value, "www.example.org");
    ASSERT_EQ(decoded.value->challenges.size(), 3u);
    EXPECT_EQ(decoded.value->challenges[1].type, "tls-alpn-01");
    EXPECT_EQ(decoded.value->challenges[0].token, "DGyRejmCefe7v4NfDGDKfA");
    EXPECT_FALSE(decoded.value->wildcard);
}

TEST(DecodeAuthorization, RefusesATokenThatCouldLeaveItsPath) {
    for (const char* token : {"../../../../etc/passwd-xxxxxxxxxx", "short", "DGyRejmCefe7v4NfDGDKfA=", "DGyRejmCefe7v4Nf DGDKfA"}) {
        const std::string body = std::string(R"({"status":"pending","identifier":{"type":"dns","value":"a.test"},"challenges":[)") +
                                 R"({"type":"http-01","url":"https://ca/c","status":"pending","token":")" + token + R"("}]})";
        EXPECT_EQ(decode_authorization(body).error, "the ACME authorization: a challenge token is not 22 to 256 base64url characters")
            << token;
    }
}

TEST(DecodeChallenge, ReadsAnInvalidChallengesError) {
    const auto decoded = decode_challenge(R"({"type":"http-01","url":"https://ca/c/1","status":"invalid",
      "token":"DGyRejmCefe7v4NfDGDKfA","error":{"type":"urn:ietf:params:acme:error:unauthorized","detail":"wrong key authorization","status":403}})");
    ASSERT_TRUE(decoded.value) << decoded.error;
    EXPECT_EQ(decoded.value->status, Status::invalid);
    EXPECT_EQ(describe(*decoded.value->error), "urn:ietf:params:acme:error:unauthorized: wrong key authorization (HTTP 403)");
}

TEST(DecodeProblem, KnowsABadNonce) {
    const auto decoded = decode_problem(R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce","status":400})");
    ASSERT_TRUE(decoded.value) << decoded.error;
    EXPECT_TRUE(decoded.value->bad_nonce());
    EXPECT_FALSE(decode_problem(R"({"type":"urn:ietf:params:acme:error:malformed"})").value->bad_nonce());
    EXPECT_EQ(describe(*decode_problem("{}").value), "about:blank");
}

TEST(DecodeAccount, ReadsItsStatus) {
    const auto decoded = decode_account(R"({"status":"valid","contact":["mailto:admin@example.org"],"orders":"https://ca/orders/1"})");
    ASSERT_TRUE(decoded.value) << decoded.error;
    EXPECT_EQ(decoded.value->status, Status::valid);
    EXPECT_EQ(decoded.value->contact, (std::vector<std::string>{"mailto:admin@example.org"}));
    EXPECT_EQ(decode_account(R"({"status":"deactivated"})").value->status, Status::deactivated);
}

// RFC 9773 §4.2's example shape, and what a broken server could send instead.
TEST(DecodeRenewalInfo, ReadsTheSuggestedWindow) {
    const auto decoded = decode_renewal_info(R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"},
                                                 "explanationURL":"https://acme.example.com/docs/ari"})");
    ASSERT_TRUE(decoded.value) << decoded.error;
    EXPECT_EQ(decoded.value->start, std::chrono::system_clock::from_time_t(1'735'790'400));
    EXPECT_EQ(decoded.value->end - decoded.value->start, std::chrono::hours(24));
    EXPECT_EQ(decoded.value->explanation_url, "https://acme.example.com/docs/ari");
}

TEST(DecodeRenewalInfo, SaysWhatIsWrong) {
    EXPECT_EQ(decode_renewal_info("{}").error, "the ACME renewal information: \"suggestedWindow\" is missing or not an object");
    EXPECT_EQ(decode_renewal_info(R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z"}})").error,
              "the ACME renewal information: \"end\" is missing");
    EXPECT_EQ(decode_renewal_info(R"({"suggestedWindow":{"start":"yesterday","end":"2025-01-03T04:00:00Z"}})").error,
              "the ACME renewal information: \"start\" is not an RFC 3339 time: \"yesterday\"");
    EXPECT_EQ(decode_renewal_info(R"({"suggestedWindow":{"start":"2025-01-03T04:00:00Z","end":"2025-01-02T04:00:00Z"}})").error,
              "the ACME renewal information: the suggested window ends before it starts");
    const auto odd_explanation = decode_renewal_info(
        R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"},"explanationURL":7})");
    ASSERT_TRUE(odd_explanation.value) << "a malformed explanationURL is left out, the window kept";
    EXPECT_EQ(odd_explanation.value->explanation_url, "");
}

TEST(ParseRfc3339, FractionsOffsetsAndRefusals) {
    const auto base = std::chrono::system_clock::from_time_t(1'735'790'400);  // 2025-01-02T04:00:00Z
    EXPECT_EQ(parse_rfc3339("2025-01-02T04:00:00Z"), base);
    EXPECT_EQ(parse_rfc3339("2025-01-02t04:00:00z"), base);
    EXPECT_EQ(parse_rfc3339("2025-01-02T05:30:00+01:30"), base);
    EXPECT_EQ(parse_rfc3339("2025-01-01T23:00:00-05:00"), base);
    EXPECT_EQ(parse_rfc3339("2025-01-02T04:00:00.25Z"), base + std::chrono::milliseconds(250));
    EXPECT_TRUE(parse_rfc3339("2024-02-29T04:00:00Z")) << "a leap day";
    for (const char* bad : {"", "2025-01-02", "2025-01-02T04:00:00", "2025-13-02T04:00:00Z", "2025-01-02T04:00:00.Z",
                            "2025-01-02T04:00:00+0100", "2025-01-02T04:00:00Z trailing", "+025-01-02T04:00:00Z",
                            // Found by fuzz_acme_messages: a year system_clock cannot hold overflowed.
                            "0754-01-04T04:00:00Z", "9999-12-31T23:59:59Z",
                            "2025-01-02T-1:-1:-1Z", "2025-02-29T04:00:00Z", "2025-04-31T04:00:00Z", "2025-01-02T04:00:00+24:00",
                            "2025-01-02T04:00:00+01:60"}) {
        EXPECT_FALSE(parse_rfc3339(bad)) << bad;
    }
}

}  // namespace
}  // namespace vhostd::acme
