#include "tests/integration/support/pebble.hpp"

#include "tests/integration/support/http_client.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace vhostd::test {

namespace {

bool accepts_connections(std::uint16_t port) {
    try {
        Connection connection(port);
        return true;
    } catch (const std::runtime_error&) {
        return false;
    }
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

Pebble::Pebble(const TempDir& dir, const TestPki& pki, PebbleOptions options)
    : dir_(dir), pki_(pki), options_(options), port_(free_port()), management_port_(free_port()), dns_port_(free_port()) {}

bool Pebble::start() {
    if (!dns_) {
        const std::string dns = "127.0.0.1:" + std::to_string(dns_port_);
        dns_ = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{"/usr/bin/pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", dns, "-http01", "",
                                     "-https01", "", "-tlsalpn01", "", "-management", "127.0.0.1:" + std::to_string(free_port())},
            (dir_.path() / "challtestsrv.log").string());
    }
    const TestPki::Issued issued = pki_.issue("pebble", {"localhost"});
    std::string config = R"({"pebble": {"listenAddress": "127.0.0.1:)" + std::to_string(port_) +
                         R"(", "managementListenAddress": "127.0.0.1:)" + std::to_string(management_port_) +
                         R"(", "certificate": ")" + issued.cert + R"(", "privateKey": ")" + issued.key +
                         R"(", "httpPort": )" + std::to_string(options_.http_port) + R"(, "tlsPort": )" + std::to_string(options_.tls_port) +
                         R"(, "ocspResponderURL": "", "externalAccountBindingRequired": false)";
    if (options_.validity_seconds != 0) config += R"(, "certificateValidityPeriod": )" + std::to_string(options_.validity_seconds);
    config += "}}";
    const auto config_path = dir_.write("pebble.json", config);
    const std::string log_path = (dir_.path() / ("pebble-" + std::to_string(++starts_) + ".log")).string();
    pebble_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"/usr/bin/env", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=" + std::to_string(options_.nonce_reject_percent),
                                 "pebble", "-config", config_path.string(), "-dnsserver", "127.0.0.1:" + std::to_string(dns_port_)},
        log_path);
    return wait_until([&] { return accepts_connections(port_) && accepts_connections(management_port_); }, 10s);
}

void Pebble::stop() { pebble_.reset(); }

std::string Pebble::root_pem() const {
    const auto [status, pem] = run_command({"/usr/bin/curl", "-sS", "--max-time", "10", "--cacert", pki_.ca(), not_a_directory_url()});
    if (status != 0 || pem.find("BEGIN CERTIFICATE") == std::string::npos) throw std::runtime_error("no root from pebble: " + pem);
    return pem;
}

std::size_t Pebble::orders() const {
    const std::string text = read_file(dir_.path() / ("pebble-" + std::to_string(starts_) + ".log"));
    std::size_t count = 0;
    for (std::size_t at = text.find("Added order"); at != std::string::npos; at = text.find("Added order", at + 1)) ++count;
    return count;
}

std::string Pebble::log() const { return read_file(dir_.path() / ("pebble-" + std::to_string(starts_) + ".log")); }

}  // namespace vhostd::test
