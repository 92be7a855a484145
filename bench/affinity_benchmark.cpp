// What session affinity adds to a connection: reading the key (a cookie from the head, or
// the client's address) and picking the slot, next to the head parse every connection
// already pays. Google Benchmark; run build/bin/affinity_benchmark.
#include "http/request_head.hpp"
#include "supervisor/affinity.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

// A browser's socket.io polling request: the session cookie after two others.
const std::string head =
    "GET /socket.io/?EIO=4&transport=polling&t=P9xZ3kq&sid=Hc3ZB9gG8hQwrAAAB HTTP/1.1\r\n"
    "Host: chat.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36\r\n"
    "Accept: */*\r\n"
    "Accept-Language: en-GB,en;q=0.9\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://chat.example.com/room/42\r\n"
    "Cookie: theme=dark; _ga=GA1.1.1234567890.1700000000; sid=s%3Aq8Jw1bX0c9dYkLmN2pQrStUv.AbCdEf\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

void ParseHead(benchmark::State& state) {
    const vhostd::http::HeadLimits limits;
    for (auto _ : state) benchmark::DoNotOptimize(vhostd::http::parse_request_head(head, limits));
}
BENCHMARK(ParseHead);

void AffinityByCookie(benchmark::State& state) {
    const vhostd::conf::Affinity affinity{.by = vhostd::conf::Affinity::By::cookie, .cookie = "sid"};
    for (auto _ : state) {
        const auto key = vhostd::supervisor::affinity_key(affinity, "192.0.2.10", head);
        benchmark::DoNotOptimize(vhostd::supervisor::affinity_slot(*key, 8));
    }
}
BENCHMARK(AffinityByCookie);

void AffinityByClient(benchmark::State& state) {
    const vhostd::conf::Affinity affinity{.by = vhostd::conf::Affinity::By::client, .cookie = {}};
    for (auto _ : state) {
        const auto key = vhostd::supervisor::affinity_key(affinity, "2001:db8::10", head);
        benchmark::DoNotOptimize(vhostd::supervisor::affinity_slot(*key, 8));
    }
}
BENCHMARK(AffinityByClient);

}  // namespace

BENCHMARK_MAIN();
