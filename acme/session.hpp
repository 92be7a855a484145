// One ACME account's conversation with one server (RFC 8555 §7): the directory, a nonce
// for every request, POSTs signed with the account key and sent again with a fresh nonce
// when the server says badNonce, and the account URL that signs all but the first.
// Coroutines on vhostd's event loop; one request at a time per session.
#pragma once

#include "acme/ec_key.hpp"
#include "acme/https_fetch.hpp"
#include "acme/messages.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace vhostd::acme {

// What went wrong, for the log and the status: the step, the URL's host, and the server's
// problem document or the transport's error. Never a key or a request body.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what, std::string problem_type = {})
        : std::runtime_error(what), problem_type_(std::move(problem_type)) {}
    // The problem document's type when the server sent one ("urn:ietf:params:acme:error:…").
    const std::string& problem_type() const { return problem_type_; }

private:
    std::string problem_type_;
};

class Session {
public:
    // `tls` and `account_key` must outlive the session; `timeout` bounds each request.
    Session(boost::asio::any_io_executor executor, boost::asio::ssl::context& tls, std::string directory_url,
            const EcKey& account_key, std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // Reads the directory. Every URL used after this comes from it or from the server's answers.
    boost::asio::awaitable<void> open();
    const Directory& directory() const { return directory_; }

    // newAccount, agreeing to the terms: creates the key's account, or finds the one it has
    // (RFC 8555 §7.3.1). `contact` is a list of "mailto:" URLs. Returns the account URL.
    boost::asio::awaitable<std::string> account(const std::vector<std::string>& contact);

    struct Placed {
        std::string url;  // the order's own URL, from Location
        Order order;
    };
    // `replaces`: the RFC 9773 CertID of the certificate this order renews (sent only when the
    // directory offers renewalInfo; empty: none).
    boost::asio::awaitable<Placed> new_order(const std::vector<std::string>& names, const std::string& replaces);
    // POST-as-GET of an order, an authorization, a challenge.
    boost::asio::awaitable<Order> order(const std::string& url);
    boost::asio::awaitable<Authorization> authorization(const std::string& url);

    // Tells the server to check a challenge now (RFC 8555 §7.5.1).
    boost::asio::awaitable<void> respond(const std::string& challenge_url);
    // Sends the CSR (DER) to the order's finalize URL; returns the order as it then is.
    boost::asio::awaitable<Order> finalize(const std::string& finalize_url, const std::string& csr_der);
    // The chain (PEM, leaf first) from a valid order's certificate URL.
    boost::asio::awaitable<std::string> download_chain(const std::string& certificate_url);
    struct Suggestion {
        RenewalInfo info;
        std::string retry_after;  // as sent: when to ask again
    };
    // GET renewalInfo/CERTID (RFC 9773 §4.2), unsigned. Only when directory().renewal_info is set.
    boost::asio::awaitable<Suggestion> renewal_info(const std::string& certificate_id);

    // Retry-After of the last answer, as sent (empty: none): how long to wait before polling.
    const std::string& last_retry_after() const { return retry_after_; }

    // A signed POST of `payload` (empty: POST-as-GET); a problem answer throws Error.
    boost::asio::awaitable<HttpsResponse> post(const std::string& url, const std::string& payload, const char* step);

    // How many times a request went again after a badNonce (pebble rejects 5% by default).
    std::uint64_t bad_nonce_retries() const { return bad_nonce_retries_; }

private:
    boost::asio::awaitable<std::string> fresh_nonce();

    boost::asio::any_io_executor executor_;
    boost::asio::ssl::context& tls_;
    std::string directory_url_;
    const EcKey& account_key_;
    std::chrono::milliseconds timeout_;
    Directory directory_;
    std::string account_url_;
    std::string nonce_;
    std::string retry_after_;
    std::uint64_t bad_nonce_retries_ = 0;
};

}  // namespace vhostd::acme
