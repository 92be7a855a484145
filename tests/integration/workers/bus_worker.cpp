// bus-worker: a site's worker or singleton (by VHOSTD_ROLE) for the bus tests, driven over
// HTTP through vhostd. As a worker:
//   GET /send/TO/TEXT          sends {"text": TEXT} to TO (singleton, worker, workers)
//   GET /call/METHOD?ARG&ms=N  calls METHOD on the singleton with "ARG"; 200 and the result, or 502 and the error
//   GET /undeliverable         the reasons vhostd sent back, as a JSON array
// and it reports every message and task it receives to the singleton. As the singleton it
// answers the calls "echo" (its args), "received" (what it got), "fanout" ({"to","n"}: sends
// n messages) and "tally" (receipts per worker pid).
#include "sdk/cpp/worker.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <iostream>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using vhostd::sdk::Recipient;
using vhostd::sdk::Sender;
using vhostd::sdk::Worker;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);

Recipient recipient(std::string_view name) {
    if (name == "singleton") return Recipient::singleton();
    if (name == "workers") return Recipient::all_workers();
    return Recipient::one_worker();
}

std::string decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

struct WorkerSide {
    Worker& worker;
    json::array undeliverable;

    asio::awaitable<std::pair<http::status, std::string>> answer(std::string_view target) {
        const auto query = target.find('?');
        const std::string_view path = target.substr(0, query);
        const std::string_view args = query == std::string_view::npos ? "" : target.substr(query + 1);
        if (path.starts_with("/send/")) {
            const auto rest = path.substr(6);
            const auto slash = rest.find('/');
            worker.send(recipient(rest.substr(0, slash)), json::object{{"text", decode(rest.substr(slash + 1))}});
            co_return std::pair{http::status::ok, std::string("sent\n")};
        }
        if (path.starts_with("/call/")) {
            std::string arg(args.substr(0, args.find('&')));
            std::chrono::milliseconds timeout(2000);
            if (const auto ms = args.find("ms="); ms != std::string_view::npos) timeout = std::chrono::milliseconds(std::stoi(std::string(args.substr(ms + 3))));
            try {
                const json::value result = co_await worker.call(std::string(path.substr(6)), json::value(decode(arg)), timeout);
                co_return std::pair{http::status::ok, json::serialize(result) + "\n"};
            } catch (const vhostd::sdk::CallError& e) {
                co_return std::pair{http::status::bad_gateway, std::string(e.what()) + "\n"};
            }
        }
        if (path == "/undeliverable") co_return std::pair{http::status::ok, json::serialize(undeliverable) + "\n"};
        co_return std::pair{http::status::not_found, std::string("no such path\n")};
    }
};

asio::awaitable<void> serve(WorkerSide& side, tcp::socket socket, [[maybe_unused]] Worker::Lease lease) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> request;
        auto [read_error, n] = co_await http::async_read(socket, buffer, request, token);
        if (read_error) break;
        auto [status, body] = co_await side.answer(std::string_view(request.target().data(), request.target().size()));
        http::response<http::string_body> response(status, request.version());
        response.set(http::field::content_type, "text/plain");
        response.body() = std::move(body);
        response.keep_alive(request.keep_alive());
        response.prepare_payload();
        auto [write_error, m] = co_await http::async_write(socket, response, token);
        side.worker.request_served();
        if (write_error || !request.keep_alive()) break;
    }
}

void run_singleton(Worker& singleton) {
    auto received = std::make_shared<json::array>();
    auto got = std::make_shared<json::object>();    // pid -> messages receipts
    auto tasks = std::make_shared<json::object>();  // pid -> task receipts
    singleton.on_message([received, got, tasks](const json::value& data, const Sender& from) {
        received->push_back(data);
        if (!data.is_object()) return;
        auto bump = [](json::object& counts, const std::string& key) {
            counts[key] = (counts.contains(key) ? counts[key].as_int64() : 0) + 1;
        };
        // Receipts of fanned-out messages: "one" for a "worker" message, "all PID" per worker
        // for a "workers" one.
        if (const auto* receipt = data.as_object().if_contains("got"); receipt && receipt->is_object()) {
            const auto* text = receipt->as_object().if_contains("text");
            const bool to_all = text && text->is_string() && text->as_string().starts_with("workers ");
            bump(*got, to_all ? "all " + std::to_string(from.pid) : "one");
        }
        if (data.as_object().contains("task")) bump(*tasks, std::to_string(from.pid));
    });
    singleton.on_call("echo", [](const json::value& args, const Sender&) { return args; });
    singleton.on_call("received", [received](const json::value&, const Sender&) { return json::value(*received); });
    singleton.on_call("tally", [got, tasks](const json::value&, const Sender&) {
        return json::value(json::object{{"got", *got}, {"tasks", *tasks}});
    });
    singleton.on_call("fanout", [&singleton](const json::value& args, const Sender&) {
        // args: "worker:10" or "workers:10"
        const std::string spec(args.as_string());
        const auto colon = spec.find(':');
        const std::string to = spec.substr(0, colon);
        const int n = std::stoi(spec.substr(colon + 1));
        for (int i = 0; i < n; ++i) singleton.send(recipient(to), json::object{{"text", to + " " + std::to_string(i)}});
        return json::value(n);
    });
}

}  // namespace

int main() {
    if (!Worker::started_by_vhostd()) {
        std::cerr << "bus-worker: run me from vhostd\n";
        return 2;
    }
    try {
        asio::io_context io(1);
        std::optional<WorkerSide> side;
        Worker worker(io, [&](tcp::socket socket, vhostd::sdk::ConnectionInfo, Worker::Lease lease) {
            asio::co_spawn(io, serve(*side, std::move(socket), std::move(lease)), asio::detached);
        });
        side.emplace(WorkerSide{worker, {}});
        if (Worker::is_singleton()) {
            run_singleton(worker);
        } else {
            // Every receipt goes to the singleton, which counts them for the test.
            worker.on_message([&worker](const json::value& data, const Sender&) {
                worker.send(Recipient::singleton(), json::object{{"got", data}});
            });
            worker.on_task([&worker](const std::string& name) { worker.send(Recipient::singleton(), json::object{{"task", name}}); });
            worker.on_undeliverable([&side](const std::string& reason) { side->undeliverable.push_back(json::value(reason)); });
        }
        worker.on_drain([] {});
        worker.ready();
        io.run();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "bus-worker: " << e.what() << "\n";
        return 1;
    }
}
