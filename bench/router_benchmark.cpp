// Routing cost per lookup with 1,000 sites: exact names, wildcards, and the default site,
// with and without host normalisation. Google Benchmark; run build/bin/router_benchmark.
#include "conf/config.hpp"
#include "http/host.hpp"
#include "router/site_table.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int site_count = 1000;

std::vector<vhostd::conf::Site> sites() {
    std::vector<vhostd::conf::Site> all(site_count + 1);
    for (int i = 0; i < site_count; ++i) {
        all[i].name = "site" + std::to_string(i);
        all[i].hosts = {"site" + std::to_string(i) + ".example", "*.site" + std::to_string(i) + ".example"};
    }
    all[site_count].name = "fallback";
    all[site_count].is_default = true;
    return all;
}

// Hosts to look up, in a shuffled order so that the hash map is not walked in sequence.
std::vector<std::string> hosts(const std::string& prefix, const std::string& suffix) {
    std::vector<std::string> names;
    for (int i = 0; i < site_count; ++i) names.push_back(prefix + "site" + std::to_string(i) + suffix);
    std::shuffle(names.begin(), names.end(), std::mt19937(42));
    return names;
}

void lookup(benchmark::State& state, const std::vector<std::string>& names) {
    const vhostd::router::SiteTable table(sites());
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(table.lookup(names[i++ % names.size()]));
    }
}

void BM_LookupExact(benchmark::State& state) { lookup(state, hosts("", ".example")); }
void BM_LookupWildcard(benchmark::State& state) { lookup(state, hosts("www.", ".example")); }
void BM_LookupDefault(benchmark::State& state) { lookup(state, hosts("", ".unknown.test")); }

// What the front does per connection: normalise the raw Host value, then look it up.
void BM_NormalizeAndLookup(benchmark::State& state) {
    const vhostd::router::SiteTable table(sites());
    const std::vector<std::string> raw = hosts("WWW.", ".Example:8080");
    std::size_t i = 0;
    for (auto _ : state) {
        const auto host = vhostd::http::normalize_host(raw[i++ % raw.size()]);
        benchmark::DoNotOptimize(table.lookup(*host));
    }
}

BENCHMARK(BM_LookupExact);
BENCHMARK(BM_LookupWildcard);
BENCHMARK(BM_LookupDefault);
BENCHMARK(BM_NormalizeAndLookup);

}  // namespace

BENCHMARK_MAIN();
