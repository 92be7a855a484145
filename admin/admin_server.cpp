#include "admin/admin_server.hpp"

#include "admin/dashboard.hpp"
#include "admin/request_guard.hpp"
#include "server/error_reply.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace vhostd::admin {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using asio::ip::tcp;

namespace {

using Request = http::request<http::string_body>;

std::string remote_of(const boost::beast::tcp_stream& stream) {
    boost::system::error_code ec;
    const auto endpoint = stream.socket().remote_endpoint(ec);
    return ec ? std::string("a closed connection") : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}
using Response = http::response<http::string_body>;

constexpr std::size_t max_request_body = 64 * 1024;
constexpr std::uint32_t max_request_head = 16 * 1024;
constexpr std::size_t max_sessions = 64;
constexpr auto io_timeout = std::chrono::seconds(10);
// A connection that has not shown the token gets less time for its next request, and is the
// first to go when every session slot is taken.
constexpr auto unauthenticated_timeout = std::chrono::seconds(3);

std::string read_token(const std::string& path) {
    if (path.empty()) return {};
    std::ifstream in(path);
    if (!in) throw std::runtime_error("[admin] token_file " + path + " cannot be read");
    std::stringstream content;
    content << in.rdbuf();
    std::string token = content.str();
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    if (token.empty()) throw std::runtime_error("[admin] token_file " + path + " is empty");
    return token;
}

// Compares without stopping at the first difference, so timing tells nothing of the token.
bool same_secret(std::string_view a, std::string_view b) {
    unsigned char difference = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i % std::max<std::size_t>(b.size(), 1)]);
    return difference == 0;
}

Response answer(const Request& request, http::status status, std::string body, const char* type) {
    Response response(status, request.version());
    response.set(http::field::server, "vhostd");
    response.set(http::field::content_type, type);
    response.set(http::field::cache_control, "no-store");
    response.keep_alive(request.keep_alive());
    response.body() = std::move(body);
    response.prepare_payload();
    return response;
}

Response answer_json(const Request& request, http::status status, const json::value& body) {
    return answer(request, status, json::serialize(body) + "\n", "application/json");
}

// The answer to a request Beast could not read (beyond the limits, or malformed), or none
// when the client left or went quiet.
std::optional<std::pair<http::status, const char*>> read_refusal(const boost::system::error_code& error) {
    if (error == http::error::header_limit) return std::pair{http::status::request_header_fields_too_large, "request head too large"};
    if (error == http::error::body_limit) return std::pair{http::status::payload_too_large, "request body too large"};
    if (error == http::error::end_of_stream || error == http::error::partial_message) return std::nullopt;
    if (error.category() == http::make_error_code(http::error::bad_target).category()) {
        return std::pair{http::status::bad_request, "malformed request"};
    }
    return std::nullopt;
}

std::string status_line_answer(http::status status) {
    const std::string line = std::to_string(static_cast<unsigned>(status)) + " " + std::string(http::obsolete_reason(status));
    return "HTTP/1.1 " + line + "\r\nServer: vhostd\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
           std::to_string(line.size() + 1) + "\r\n\r\n" + line + "\n";
}

}  // namespace

AdminServer::AdminServer(asio::io_context& io, const conf::AdminSettings& settings, AdminHooks hooks, server::InheritedSockets* inherited)
    : hooks_(std::move(hooks)),
      address_(settings.address),
      token_(read_token(settings.token_file)),
      host_rule_(settings.endpoint.host, settings.hosts),
      acceptor_(io) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(settings.endpoint.host, ec);
    const tcp::endpoint endpoint(address, settings.endpoint.port);
    std::vector<protocol::FileDescriptor> passed;
    if (!ec && inherited != nullptr) passed = inherited->take(endpoint);
    if (!passed.empty()) {
        if (!ec) acceptor_.assign(endpoint.protocol(), passed.front().get(), ec);
        if (!ec) passed.front().release();
    } else {
        if (!ec) acceptor_.open(endpoint.protocol(), ec);
        if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor_.bind(endpoint, ec);
        if (!ec) acceptor_.listen(64, ec);
    }
    if (ec) throw std::runtime_error("cannot listen on the admin address " + address_ + ": " + ec.message());
    if (token_.empty() && !address.is_loopback()) {
        spdlog::warn("admin endpoint on {} without a token_file: anyone who can reach it can steer vhostd", address_);
    }
}

void AdminServer::start() {
    spdlog::info("admin endpoint on http://{}/", address_);
    asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void AdminServer::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

asio::awaitable<void> AdminServer::accept_loop() {
    while (acceptor_.is_open()) {
        auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
    }
}

// Frees a slot for a new connection: the oldest session that has not shown the token goes,
// one that waits for a request first, else one that is busy (a client can keep its answers
// unread to hold a slot). False when every slot is an authenticated session.
bool AdminServer::evict_one_session() {
    for (const bool idle_only : {true, false}) {
        for (Session& session : sessions_) {
            if (session.authenticated || session.evicted || (idle_only && !session.idle)) continue;
            boost::system::error_code ignored;
            session.stream->socket().close(ignored);  // its read or write fails, and its coroutine ends
            session.evicted = true;
            return true;
        }
    }
    return false;
}

asio::awaitable<void> AdminServer::serve(tcp::socket socket) {
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    boost::beast::tcp_stream stream(std::move(socket));
    // A bounded number of sessions, each with deadlines: an idle or slow client cannot hold
    // fds that the public listeners need, nor keep vhostctl out.
    if (sessions_.size() >= max_sessions && !evict_one_session()) {
        spdlog::warn("admin endpoint: {} sessions, all authenticated: a new connection gets 503", sessions_.size());
        const std::string busy = status_line_answer(http::status::service_unavailable);
        stream.expires_after(io_timeout);
        auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(busy), token);
        if (!write_error) co_await server::linger_before_close(stream.socket());
        co_return;
    }
    const auto session = sessions_.insert(sessions_.end(), Session{&stream, false, true, false});
    struct Leave {
        std::list<Session>& sessions;
        std::list<Session>::iterator session;
        ~Leave() { sessions.erase(session); }
    } leave{sessions_, session};
    boost::beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(max_request_head);
        parser.body_limit(max_request_body);
        session->idle = true;
        stream.expires_after(session->authenticated ? io_timeout : unauthenticated_timeout);
        auto [read_error, n] = co_await http::async_read(stream, buffer, parser, token);
        session->idle = false;
        if (read_error) {
            if (const auto refusal = read_refusal(read_error)) {
                spdlog::warn("admin endpoint: refused a request from {}: {} {}", remote_of(stream), static_cast<unsigned>(refusal->first),
                             refusal->second);
                const std::string refused = status_line_answer(refusal->first);
                stream.expires_after(io_timeout);
                co_await asio::async_write(stream, asio::buffer(refused), token);
            }
            break;
        }
        const Request& request = parser.get();
        Response response = [&]() -> Response {
            const std::string_view target = request.target();
            const std::string_view path = target.substr(0, target.find('?'));
            const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
            const bool post = request.method() == http::verb::post;
            const auto host = request.find(http::field::host);
            if (host == request.end() ? request.version() >= 11 : !host_rule_.admits(std::string_view(host->value()))) {
                return answer(request, http::status::misdirected_request,
                              "421 this endpoint does not answer to that Host (see [admin] hosts)\n", "text/plain");
            }
            const auto field = [&](const auto& name) -> std::optional<std::string_view> {
                const auto found = request.find(name);
                if (found == request.end()) return std::nullopt;
                return std::string_view(found->value());
            };
            const RequestOrigin origin{request.method_string(), field(http::field::host).value_or(std::string_view()),
                                       field(http::field::origin), field("Sec-Fetch-Site")};
            if (is_cross_site_change(origin)) {
                return answer(request, http::status::forbidden, "403 a request from another site's page\n", "text/plain");
            }
            // The dashboard page holds no data and a browser cannot send a header when it opens
            // a URL: the page is free, and it sends the token (?token=…) with each poll.
            const bool dashboard = get && path == "/";
            if (!token_.empty() && !dashboard) {
                const auto header = request[http::field::authorization];
                const bool bearer = header.size() > 7 && boost::beast::iequals(header.substr(0, 7), "Bearer ");
                if (!bearer || !same_secret(header.substr(7), token_)) {
                    Response denied = answer(request, http::status::unauthorized, "401 a bearer token is required\n", "text/plain");
                    denied.set(http::field::www_authenticate, "Bearer realm=\"vhostd\"");
                    denied.keep_alive(false);  // a client without the token gets one try per connection
                    return denied;
                }
                session->authenticated = true;
            }
            if (dashboard) return answer(request, http::status::ok, std::string(dashboard_html()), "text/html; charset=utf-8");
            if (get && path == "/status") return answer_json(request, http::status::ok, hooks_.status());
            if (get && path == "/metrics") return answer(request, http::status::ok, hooks_.metrics(), "text/plain; version=0.0.4; charset=utf-8");
            if (get && path == "/healthz") return answer(request, http::status::ok, "ok\n", "text/plain");
            if (get && path == "/readyz") {
                return hooks_.ready() ? answer(request, http::status::ok, "ready\n", "text/plain")
                                      : answer(request, http::status::service_unavailable, "not ready\n", "text/plain");
            }
            if (post && path == "/reload") {
                const ReloadOutcome outcome = hooks_.reload();
                if (outcome.ok) return answer_json(request, http::status::ok, json::object{{"ok", true}, {"summary", outcome.summary}});
                json::array errors;
                for (const auto& error : outcome.errors) errors.emplace_back(error);
                return answer_json(request, http::status::bad_request, json::object{{"ok", false}, {"errors", std::move(errors)}});
            }
            if (post && path == "/upgrade") {
                const auto started = hooks_.upgrade();
                if (const pid_t* pid = std::get_if<pid_t>(&started)) {
                    return answer_json(request, http::status::accepted, json::object{{"ok", true}, {"pid", *pid}});
                }
                return answer_json(request, http::status::conflict, json::object{{"ok", false}, {"error", std::get<std::string>(started)}});
            }
            if (post && path.starts_with("/sites/")) {
                const std::string_view rest = path.substr(7);
                const auto slash = rest.find('/');
                if (slash != std::string_view::npos) {
                    const std::string site(rest.substr(0, slash));
                    const std::string action(rest.substr(slash + 1));
                    if (action == "restart" || action == "stop" || action == "start") {
                        if (hooks_.site_action(site, action)) return answer_json(request, http::status::ok, json::object{{"ok", true}});
                        return answer_json(request, http::status::not_found, json::object{{"ok", false}, {"error", "no site " + site}});
                    }
                }
            }
            if (path == "/" || path == "/status" || path == "/metrics" || path == "/healthz" || path == "/readyz" || path == "/reload" ||
                path == "/upgrade") {
                return answer(request, http::status::method_not_allowed, "405 method not allowed\n", "text/plain");
            }
            return answer(request, http::status::not_found, "404 not found\n", "text/plain");
        }();
        if (response.result() == http::status::misdirected_request || response.result() == http::status::forbidden) {
            spdlog::warn("admin endpoint: refused {} {} from {}: {}", request.method_string(), request.target(), remote_of(stream),
                         response.body().substr(0, response.body().size() - 1));
            response.keep_alive(false);
        }
        const bool keep_alive = response.keep_alive();
        if (request.method() == http::verb::head) {
            const auto length = response.body().size();
            response.body().clear();
            response.content_length(length);  // what a GET would carry
        }
        stream.expires_after(io_timeout);
        auto [write_error, m] = co_await http::async_write(stream, response, token);
        if (write_error || !keep_alive) break;
    }
    // Our FIN, then what the client still sends is read (bounded): closing with unread bytes
    // (an oversized request, a pipelined one after a 401) would reset the connection and could
    // destroy the answer before the client reads it.
    stream.expires_never();
    co_await server::linger_before_close(stream.socket());
}

}  // namespace vhostd::admin
