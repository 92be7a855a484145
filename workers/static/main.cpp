// vhostd-static: a worker that serves the files of one directory. GET and HEAD, MIME types by
// extension, ETag/Last-Modified with conditional requests, single byte ranges, index files,
// sendfile for the bodies. Every path is opened beneath the root by the kernel (openat2), so
// neither "..", encoded or not, nor a symbolic link can reach a file outside it.
//
//   [sites.docs]
//   hosts = ["docs.example"]
//   static = "public"          # or command = ["vhostd-static", "--root", "public"]
#include "sdk/cpp/request_reader.hpp"
#include "sdk/cpp/worker.hpp"
#include "workers/static/byte_range.hpp"
#include "workers/static/document_root.hpp"
#include "workers/static/mime_type.hpp"
#include "workers/static/request_path.hpp"
#include "workers/static/validators.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <signal.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <iostream>
#include <list>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using vhostd::sdk::Worker;
using namespace vhostd::static_files;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);
// A connection that neither sends a request nor takes our bytes for this long is closed.
constexpr auto stall_timeout = std::chrono::seconds(60);
// Bodies up to this size go out with the head in one write; larger ones by sendfile.
constexpr std::uint64_t inline_body_limit = 64 * 1024;

struct Session {
    tcp::socket* socket;
    const beast::flat_buffer* received;  // what is read and not yet parsed: a next head in part
    std::chrono::steady_clock::time_point deadline;
    bool idle = false;  // between requests, nothing of the next one here: a drain closes it at once
};

struct App {
    DocumentRoot* root = nullptr;
    Worker* worker = nullptr;
    bool allow_dot_files = false;
    bool draining = false;
    std::list<Session> sessions;
    vhostd::sdk::RequestLimits limits = vhostd::sdk::RequestLimits::from_environment();
};

// One timer for the process closes connections past their deadline.
asio::awaitable<void> reap_stalled(App& app) {
    asio::steady_timer tick(co_await asio::this_coro::executor);
    for (;;) {
        tick.expires_after(std::chrono::seconds(1));
        co_await tick.async_wait(token);
        const auto now = std::chrono::steady_clock::now();
        for (Session& session : app.sessions) {
            if (now >= session.deadline) session.socket->cancel();
        }
    }
}

class ResponseHead {
public:
    ResponseHead(unsigned status, std::string_view reason, unsigned version) {
        text_ = version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
        text_ += std::to_string(status);
        text_ += ' ';
        text_ += reason;
        text_ += "\r\nServer: vhostd-static\r\n";
        add("Date", http_date(std::time(nullptr)));
    }
    ResponseHead& add(std::string_view name, std::string_view value) {
        text_.append(name).append(": ").append(value).append("\r\n");
        return *this;
    }
    std::string finish(bool keep_alive, unsigned version) {
        if (!keep_alive) add("Connection", "close");
        else if (version == 10) add("Connection", "keep-alive");
        text_ += "\r\n";
        return std::move(text_);
    }

private:
    std::string text_;
};

struct Answer {
    std::string bytes;       // head, and the body when it is small
    bool keep_alive = false; // what the head told the client
    int file = -1;           // then `length` bytes from `offset` of this file follow
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    FileDescriptor owned{};  // keeps `file` open until the answer is sent
};

Answer plain_answer(unsigned status, std::string_view reason, unsigned version, bool keep_alive, bool head_only,
                    std::initializer_list<std::pair<std::string_view, std::string_view>> extra = {}) {
    const std::string body = std::to_string(status) + " " + std::string(reason) + "\n";
    ResponseHead response(status, reason, version);
    response.add("Content-Type", "text/plain; charset=utf-8").add("Content-Length", std::to_string(body.size()));
    for (const auto& [name, value] : extra) response.add(name, value);
    Answer answer{response.finish(keep_alive, version), keep_alive};
    if (!head_only) answer.bytes += body;
    return answer;
}

// Decides the answer to one request; reads a small body into it. Pure of socket I/O.
Answer answer_for(App& app, const http::request<http::string_body>& request, bool keep_alive) {
    const unsigned version = request.version();
    const bool head_only = request.method() == http::verb::head;
    if (request.method() != http::verb::get && !head_only) {
        return plain_answer(405, "Method Not Allowed", version, keep_alive, false, {{"Allow", "GET, HEAD"}});
    }
    const std::string_view target(request.target().data(), request.target().size());
    const auto path = parse_request_path(target, app.allow_dot_files);
    if (!path) return plain_answer(404, "Not Found", version, keep_alive, head_only);

    Lookup lookup = app.root->find(*path);
    switch (lookup.outcome) {
        case Lookup::Outcome::found: break;
        case Lookup::Outcome::not_found: return plain_answer(404, "Not Found", version, keep_alive, head_only);
        case Lookup::Outcome::forbidden: return plain_answer(403, "Forbidden", version, keep_alive, head_only);
        case Lookup::Outcome::add_slash: {
            // The client's own spelling, still percent-encoded: a decoded name ("100%", "a?b")
            // would make another URL.
            const std::string_view raw = origin_form(target);
            const auto query = raw.find('?');
            const std::string location = std::string(raw.substr(0, query)) + "/" +
                                         (query == std::string_view::npos ? std::string() : std::string(raw.substr(query)));
            return plain_answer(301, "Moved Permanently", version, keep_alive, head_only, {{"Location", location}});
        }
    }

    const std::string tag = entity_tag(lookup.size, lookup.modified);
    const std::time_t modified = lookup.modified.tv_sec;
    const std::string last_modified = http_date(modified);
    auto header = [&request](http::field field) {
        const auto value = request[field];
        return std::string_view(value.data(), value.size());
    };
    const Conditions conditions{header(http::field::if_match), header(http::field::if_none_match),
                                header(http::field::if_modified_since), header(http::field::if_unmodified_since),
                                header(http::field::if_range)};
    switch (evaluate(conditions, tag, modified)) {
        case Precondition::proceed: break;
        case Precondition::failed: return plain_answer(412, "Precondition Failed", version, keep_alive, head_only);
        case Precondition::not_modified: {
            ResponseHead response(304, "Not Modified", version);
            response.add("ETag", tag).add("Last-Modified", last_modified);
            return Answer{response.finish(keep_alive, version), keep_alive};
        }
    }

    RangeRequest range;
    // Range is defined for GET only (RFC 9110 section 14.2): HEAD describes the whole file.
    if (const auto range_header = header(http::field::range);
        !head_only && !range_header.empty() && range_allowed(conditions.if_range, tag, modified)) {
        range = parse_range(range_header, lookup.size);
    }
    if (range.kind == RangeRequest::Kind::unsatisfiable) {
        const std::string content_range = "bytes */" + std::to_string(lookup.size);
        return plain_answer(416, "Range Not Satisfiable", version, keep_alive, head_only, {{"Content-Range", content_range}});
    }
    const bool partial = range.kind == RangeRequest::Kind::partial;
    Answer answer;
    answer.offset = partial ? range.first : 0;
    answer.length = partial ? range.last - range.first + 1 : lookup.size;
    ResponseHead response(partial ? 206 : 200, partial ? "Partial Content" : "OK", version);
    response.add("Content-Type", mime_type(lookup.name))
        .add("Content-Length", std::to_string(answer.length))
        .add("ETag", tag)
        .add("Last-Modified", last_modified)
        .add("Accept-Ranges", "bytes");
    if (partial) {
        response.add("Content-Range", "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
                                          std::to_string(lookup.size));
    }
    answer.bytes = response.finish(keep_alive, version);
    answer.keep_alive = keep_alive;
    if (head_only || answer.length == 0) {
        answer.length = 0;
        return answer;
    }
    if (answer.length <= inline_body_limit) {
        const std::size_t head_size = answer.bytes.size();
        answer.bytes.resize(head_size + answer.length);
        const ssize_t n = ::pread(lookup.file.get(), answer.bytes.data() + head_size, answer.length, static_cast<off_t>(answer.offset));
        if (n != static_cast<ssize_t>(answer.length)) return plain_answer(500, "Internal Server Error", version, false, head_only);
        answer.length = 0;
        return answer;
    }
    answer.file = lookup.file.get();
    answer.owned = std::move(lookup.file);
    return answer;
}

// Writes the head and small body, then the file by sendfile. False when the connection failed.
asio::awaitable<bool> send(tcp::socket& socket, Answer& answer, Session& session) {
    session.deadline = std::chrono::steady_clock::now() + stall_timeout;
    auto [write_error, n] = co_await asio::async_write(socket, asio::buffer(answer.bytes), token);
    if (write_error) co_return false;
    off_t offset = static_cast<off_t>(answer.offset);
    std::uint64_t left = answer.length;
    socket.native_non_blocking(true);
    while (left > 0) {
        const ssize_t sent = ::sendfile(socket.native_handle(), answer.file, &offset, std::min<std::uint64_t>(left, 1 << 30));
        if (sent > 0) {
            left -= static_cast<std::uint64_t>(sent);
            session.deadline = std::chrono::steady_clock::now() + stall_timeout;
        } else if (sent < 0 && (errno == EAGAIN || errno == EINTR)) {
            auto [wait_error] = co_await socket.async_wait(tcp::socket::wait_write, token);
            if (wait_error) co_return false;
        } else {
            co_return false;  // an error, or the file shrank under us: the length we promised is wrong
        }
    }
    co_return true;
}

// Every request is read by vhostd's grammar (sdk/cpp/request_reader.hpp), for `host` only.
asio::awaitable<void> serve(App& app, tcp::socket socket, vhostd::sdk::ConnectionHost host, [[maybe_unused]] Worker::Lease lease) {
    beast::flat_buffer buffer;
    const auto session = app.sessions.insert(app.sessions.end(), Session{&socket, &buffer, {}});
    for (bool first = true;; first = false) {
        if (app.draining && !first) break;
        session->idle = !first;
        session->deadline = std::chrono::steady_clock::now() + stall_timeout;
        // A body (max_body at most) is read and dropped, as nginx does: the grammar frames it,
        // so the next request starts where every other worker kind would start it.
        http::request_parser<http::string_body> parser;
        const vhostd::sdk::HeadRead read = co_await vhostd::sdk::read_request_head(socket, buffer, parser, host, app.limits);
        session->idle = false;
        std::optional<vhostd::sdk::Refusal> refusal = read.refusal;
        if (read.ok && !refusal) refusal = co_await vhostd::sdk::read_request_body(socket, buffer, parser, read.head, app.limits);
        if (refusal) {
            co_await vhostd::sdk::refuse(socket, *refusal);
            break;
        }
        if (!read.ok) break;  // the client left
        const auto& request = parser.get();
        const bool keep_alive = request.keep_alive() && !app.draining;
        Answer answer = answer_for(app, request, keep_alive);
        const bool sent = co_await send(socket, answer, *session);
        app.worker->request_served();
        if (!sent || !answer.keep_alive) break;
    }
    app.sessions.erase(session);
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
}

int usage() {
    std::cerr << "usage: vhostd-static --root DIR [--index NAME]... [--dot-files]   (started by vhostd)\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    // sendfile, unlike Asio's writes, is not MSG_NOSIGNAL: a client that resets mid-download
    // must cost an EPIPE, not the whole worker. vhostd starts workers with default signals.
    ::signal(SIGPIPE, SIG_IGN);
    std::string root_path;
    std::vector<std::string> index_names;
    App app;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--root" && i + 1 < argc) {
            root_path = argv[++i];
        } else if (arg == "--index" && i + 1 < argc) {
            index_names.emplace_back(argv[++i]);
        } else if (arg == "--dot-files") {
            app.allow_dot_files = true;
        } else {
            return usage();
        }
    }
    if (root_path.empty() || !Worker::started_by_vhostd()) return usage();
    if (index_names.empty()) index_names.emplace_back("index.html");
    try {
        DocumentRoot root(root_path, std::move(index_names));
        app.root = &root;
        asio::io_context io(1);
        Worker worker(io, [&app, &io](tcp::socket socket, vhostd::sdk::ConnectionInfo info, Worker::Lease lease) {
            if (info.tls && info.tls->passthrough) {
                std::cerr << "vhostd-static: passthrough TLS is not supported; use tls_mode = \"terminate\"\n";
                return;
            }
            asio::co_spawn(io, serve(app, std::move(socket), vhostd::sdk::ConnectionHost::of_handoff(info), std::move(lease)),
                           asio::detached);
        });
        app.worker = &worker;
        asio::co_spawn(io, reap_stalled(app), asio::detached);
        worker.on_drain([&app] {
            app.draining = true;
            // A next head partly here is let finish (answered with Connection: close), or
            // stall into the stall timeout's 408.
            for (Session& session : app.sessions) {
                if (session.idle && session.received->size() == 0) session.socket->cancel();
            }
        });
        worker.ready();
        std::cout << "vhostd-static for site " << worker.site() << " serving " << root_path << std::endl;
        io.run();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "vhostd-static: " << e.what() << "\n";
        return 1;
    }
}
