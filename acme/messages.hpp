// The ACME server's JSON (RFC 8555 §7.1): the directory, accounts, orders, authorizations,
// challenges and problem documents, decoded into structs. Pure: bytes in, a value or a
// reason out. Every URL the client follows comes from these (https only), never from a
// guess; members this client does not use are ignored, as RFC 8555 asks.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vhostd::acme {

// RFC 8555 §7.1.6, for accounts, orders, authorizations and challenges alike.
enum class Status { pending, ready, processing, valid, invalid, expired, deactivated, revoked };
std::string_view to_string(Status status);

// RFC 7807, with ACME's subproblems (RFC 8555 §6.7.1).
struct Problem {
    std::string type;    // "urn:ietf:params:acme:error:badNonce", …
    std::string detail;
    int status = 0;
    std::vector<Problem> subproblems;

    // The server refused the nonce: the request is sent again with a fresh one.
    bool bad_nonce() const { return type == "urn:ietf:params:acme:error:badNonce"; }
};
// One line for the log: type, detail, status and subproblems; nothing of the request.
std::string describe(const Problem& problem);

struct Directory {
    std::string new_nonce;
    std::string new_account;
    std::string new_order;
    std::string revoke_cert;
    std::string key_change;
    std::string renewal_info;        // ACME Renewal Information (RFC 9773); empty: not offered
    std::string terms_of_service;    // meta.termsOfService; empty: none
    bool external_account_required = false;
};

struct Identifier {
    std::string type;  // "dns"
    std::string value;
};

struct Account {
    Status status = Status::valid;
    std::vector<std::string> contact;
};

struct Order {
    Status status = Status::pending;
    std::vector<Identifier> identifiers;
    std::vector<std::string> authorizations;  // URLs
    std::string finalize;                      // URL
    std::string certificate;                   // URL, once valid
    std::optional<Problem> error;
};

struct Challenge {
    std::string type;  // "http-01", "tls-alpn-01", …
    std::string url;
    std::string token;
    Status status = Status::pending;
    std::optional<Problem> error;
};

struct Authorization {
    Status status = Status::pending;
    Identifier identifier;
    std::vector<Challenge> challenges;
    bool wildcard = false;
};

// ACME Renewal Information (RFC 9773 §4.2): when the CA would like a certificate renewed.
struct RenewalInfo {
    std::chrono::system_clock::time_point start;  // of the suggested window; before end
    std::chrono::system_clock::time_point end;
    std::string explanation_url;  // why the window moved (a mass revocation, …); may be empty
};

// A value, or why the body is not one (for the log, with the object's name).
template <class T>
struct Decoded {
    std::optional<T> value;
    std::string error;
};

Decoded<Directory> decode_directory(std::string_view body);
Decoded<Account> decode_account(std::string_view body);
Decoded<Order> decode_order(std::string_view body);
Decoded<Authorization> decode_authorization(std::string_view body);
Decoded<Challenge> decode_challenge(std::string_view body);
Decoded<Problem> decode_problem(std::string_view body);
Decoded<RenewalInfo> decode_renewal_info(std::string_view body);

// An RFC 3339 date-time ("2025-01-02T04:00:00Z", fractions and offsets allowed).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace vhostd::acme
