#include "acme/session.hpp"

#include "acme/base64url.hpp"
#include "acme/jws.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <utility>

namespace vhostd::acme {

namespace asio = boost::asio;

namespace {

// A request is sent again at most this many times after a badNonce.
constexpr int max_nonce_retries = 5;

template <class T>
T decoded_or_throw(Decoded<T> decoded, const char* step) {
    if (!decoded.value) throw Error(std::string(step) + ": " + decoded.error);
    return std::move(*decoded.value);
}

}  // namespace

Session::Session(asio::any_io_executor executor, asio::ssl::context& tls, std::string directory_url, const EcKey& account_key,
                 std::chrono::milliseconds timeout)
    : executor_(std::move(executor)), tls_(tls), directory_url_(std::move(directory_url)), account_key_(account_key), timeout_(timeout) {}

asio::awaitable<void> Session::open() {
    // Requests are named before co_await: GCC 12 mislays a temporary built from literals there.
    const HttpsRequest request{.method = "GET", .url = directory_url_, .body = {}, .content_type = {}};
    HttpsResponse response;
    try {
        response = co_await https_fetch(executor_, tls_, request, timeout_);
    } catch (const boost::system::system_error& e) {
        throw Error(std::string("the ACME directory ") + directory_url_ + ": " + e.what());
    }
    if (response.status != 200) {
        throw Error("the ACME directory " + directory_url_ + " answered HTTP " + std::to_string(response.status));
    }
    directory_ = decoded_or_throw(decode_directory(response.body), "reading the directory");
}

asio::awaitable<std::string> Session::fresh_nonce() {
    if (!nonce_.empty()) co_return std::exchange(nonce_, {});
    const HttpsRequest request{.method = "HEAD", .url = directory_.new_nonce, .body = {}, .content_type = {}};
    HttpsResponse response;
    try {
        response = co_await https_fetch(executor_, tls_, request, timeout_);
    } catch (const boost::system::system_error& e) {
        throw Error(std::string("newNonce: ") + e.what());
    }
    if (response.replay_nonce.empty()) throw Error("newNonce: HTTP " + std::to_string(response.status) + " without a Replay-Nonce");
    co_return response.replay_nonce;
}

asio::awaitable<HttpsResponse> Session::post(const std::string& url, const std::string& payload, const char* step) {
    for (int attempt = 0;; ++attempt) {
        const std::string nonce = co_await fresh_nonce();
        const HttpsRequest request{.method = "POST",
                                   .url = url,
                                   .body = sign_request(account_key_, {.url = url, .nonce = nonce, .kid = account_url_}, payload),
                                   .content_type = "application/jose+json"};
        HttpsResponse response;
        try {
            response = co_await https_fetch(executor_, tls_, request, timeout_);
        } catch (const boost::system::system_error& e) {
            throw Error(std::string(step) + ": " + e.what());
        }
        nonce_ = response.replay_nonce;  // the next request's, if the server gave one
        retry_after_ = response.retry_after;
        if (response.status < 400) co_return response;
        const Decoded<Problem> problem = decode_problem(response.body);
        if (problem.value && problem.value->bad_nonce() && attempt < max_nonce_retries) {
            ++bad_nonce_retries_;
            continue;
        }
        throw Error(std::string(step) + ": " +
                        (problem.value ? describe(*problem.value) : "HTTP " + std::to_string(response.status) + " without a problem document"),
                    problem.value ? problem.value->type : std::string());
    }
}

asio::awaitable<std::string> Session::account(const std::vector<std::string>& contact) {
    boost::json::array contacts;
    for (const std::string& entry : contact) contacts.emplace_back(entry);
    boost::json::object payload{{"termsOfServiceAgreed", true}};
    if (!contacts.empty()) payload["contact"] = std::move(contacts);
    account_url_.clear();  // newAccount is signed with the key itself
    const std::string body = boost::json::serialize(payload);
    const char* const step = "newAccount";
    const HttpsResponse response = co_await post(directory_.new_account, body, step);
    const Account account = decoded_or_throw(decode_account(response.body), step);
    if (account.status != Status::valid) throw Error("newAccount: the account is " + std::string(to_string(account.status)));
    if (!response.location.starts_with("https://")) throw Error("newAccount: no account URL in Location");
    account_url_ = response.location;
    co_return account_url_;
}

asio::awaitable<Session::Placed> Session::new_order(const std::vector<std::string>& names, const std::string& replaces) {
    boost::json::array identifiers;
    for (const std::string& name : names) identifiers.push_back(boost::json::object{{"type", "dns"}, {"value", name}});
    boost::json::object order{{"identifiers", std::move(identifiers)}};
    if (!replaces.empty() && !directory_.renewal_info.empty()) order["replaces"] = replaces;
    // Arguments of co_await named first: GCC 12 cannot keep a string literal in a coroutine frame.
    const std::string payload = boost::json::serialize(order);
    const char* const step = "newOrder";
    const HttpsResponse response = co_await post(directory_.new_order, payload, step);
    Placed placed{response.location, decoded_or_throw(decode_order(response.body), step)};
    if (!placed.url.starts_with("https://")) throw Error("newOrder: no order URL in Location");
    co_return placed;
}

asio::awaitable<Session::Suggestion> Session::renewal_info(const std::string& certificate_id) {
    const std::string base = directory_.renewal_info.ends_with('/') ? directory_.renewal_info : directory_.renewal_info + "/";
    const HttpsRequest request{.method = "GET", .url = base + certificate_id, .body = {}, .content_type = {}};
    HttpsResponse response;
    try {
        response = co_await https_fetch(executor_, tls_, request, timeout_);
    } catch (const boost::system::system_error& e) {
        throw Error(std::string("renewalInfo: ") + e.what());
    }
    if (response.status != 200) throw Error("renewalInfo: HTTP " + std::to_string(response.status) + " for " + certificate_id);
    co_return Suggestion{decoded_or_throw(decode_renewal_info(response.body), "renewalInfo"), response.retry_after};
}

asio::awaitable<Order> Session::order(const std::string& url) {
    const char* const step = "reading an order";
    const HttpsResponse response = co_await post(url, std::string(), step);
    co_return decoded_or_throw(decode_order(response.body), step);
}

asio::awaitable<Authorization> Session::authorization(const std::string& url) {
    const char* const step = "reading an authorization";
    const HttpsResponse response = co_await post(url, std::string(), step);
    co_return decoded_or_throw(decode_authorization(response.body), step);
}

asio::awaitable<void> Session::respond(const std::string& challenge_url) {
    const std::string payload = "{}";  // an empty object, not POST-as-GET's empty payload
    const char* const step = "answering a challenge";
    co_await post(challenge_url, payload, step);
}

asio::awaitable<Order> Session::finalize(const std::string& finalize_url, const std::string& csr_der) {
    const std::string payload = boost::json::serialize(boost::json::object{{"csr", base64url(csr_der)}});
    const char* const step = "finalizing the order";
    const HttpsResponse response = co_await post(finalize_url, payload, step);
    co_return decoded_or_throw(decode_order(response.body), step);
}

asio::awaitable<std::string> Session::download_chain(const std::string& certificate_url) {
    const char* const step = "downloading the certificate";
    const HttpsResponse response = co_await post(certificate_url, std::string(), step);
    if (response.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        throw Error(std::string(step) + ": the answer (" + (response.content_type.empty() ? "no type" : response.content_type) +
                    ") holds no PEM certificate");
    }
    co_return response.body;
}

}  // namespace vhostd::acme
