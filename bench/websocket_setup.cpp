// WebSocket connection setup rate: each of C concurrent clients repeatedly connects, does the
// upgrade handshake with Host hello.test, sends one message, reads its echo and closes, for D
// seconds. Prints the rate and p50/p99 of one whole setup, in the shape bench/summarize.py
// reads.   websocket_setup HOST PORT [CONNECTIONS] [SECONDS]
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Results {
    std::vector<double> setup_ms;
    std::uint64_t errors = 0;
};

asio::awaitable<void> client(tcp::endpoint target, Clock::time_point end, Results& results) {
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    auto executor = co_await asio::this_coro::executor;
    const std::string message = "ping";
    while (Clock::now() < end) {
        const auto started = Clock::now();
        websocket::stream<beast::tcp_stream> ws(executor);
        beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(5));
        auto [connect_error] = co_await beast::get_lowest_layer(ws).async_connect(target, token);
        bool ok = !connect_error;
        if (ok) ok = !std::get<0>(co_await ws.async_handshake("hello.test", "/", token));
        if (ok) ok = !std::get<0>(co_await ws.async_write(asio::buffer(message), token));
        beast::flat_buffer buffer;
        if (ok) ok = !std::get<0>(co_await ws.async_read(buffer, token));
        if (ok) ok = !std::get<0>(co_await ws.async_close(websocket::close_code::normal, token));
        if (ok) {
            results.setup_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
        } else {
            ++results.errors;
        }
    }
}

double percentile(std::vector<double>& values, double q) {
    if (values.empty()) return 0;
    const auto at = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1));
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(at), values.end());
    return values[at];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: websocket_setup HOST PORT [CONNECTIONS] [SECONDS]\n";
        return 2;
    }
    const tcp::endpoint target(asio::ip::make_address(argv[1]), static_cast<unsigned short>(std::stoi(argv[2])));
    const int connections = argc > 3 ? std::stoi(argv[3]) : 50;
    const int seconds = argc > 4 ? std::stoi(argv[4]) : 5;

    asio::io_context io(1);
    Results results;
    const auto started = Clock::now();
    const auto end = started + std::chrono::seconds(seconds);
    for (int i = 0; i < connections; ++i) asio::co_spawn(io, client(target, end, results), asio::detached);
    io.run();
    const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();

    // The same lines wrk prints, so that one parser reads both.
    std::printf("  Latency Distribution\n");
    std::printf("     50%%   %.3fms\n", percentile(results.setup_ms, 0.50));
    std::printf("     99%%   %.3fms\n", percentile(results.setup_ms, 0.99));
    if (results.errors > 0) std::printf("  Socket errors: %llu failed setups\n", static_cast<unsigned long long>(results.errors));
    std::printf("Requests/sec: %.2f\n", static_cast<double>(results.setup_ms.size()) / elapsed);
    return 0;
}
