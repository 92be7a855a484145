// Debian's pebble (a test ACME server) for one test, on loopback: its HTTPS certificate
// from the test's PKI, validations sent to the ports the test names, and names resolved
// by pebble-challtestsrv to 127.0.0.1. Both are stopped by pid when the guard goes.
#pragma once

#include "tests/integration/support/temp_dir.hpp"
#include "tests/integration/support/test_pki.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace vhostd::test {

struct PebbleOptions {
    std::uint16_t http_port = 0;      // where pebble sends HTTP-01 validations
    std::uint16_t tls_port = 0;       // and TLS-ALPN-01 ones
    int nonce_reject_percent = 5;     // pebble's own default
    unsigned validity_seconds = 0;    // 0: pebble's default (about five years)
};

class Pebble {
public:
    Pebble(const TempDir& dir, const TestPki& pki, PebbleOptions options);

    // Starts pebble (again, after stop(): same ports, a fresh CA); false when it does not listen.
    bool start();
    void stop();

    std::uint16_t port() const { return port_; }
    std::string directory_url() const { return "https://localhost:" + std::to_string(port_) + "/dir"; }
    // A URL on pebble's management port that answers 200 with PEM, not a directory.
    std::string not_a_directory_url() const { return "https://localhost:" + std::to_string(management_port_) + "/roots/0"; }
    // The root that signs what pebble issues, PEM (it changes with each start).
    std::string root_pem() const;
    // Orders pebble accepted since it started, counted in its log.
    std::size_t orders() const;
    std::string log() const;

private:
    const TempDir& dir_;
    const TestPki& pki_;
    PebbleOptions options_;
    std::uint16_t port_;
    std::uint16_t management_port_;
    std::uint16_t dns_port_;
    std::unique_ptr<BackgroundProcess> dns_;
    std::unique_ptr<BackgroundProcess> pebble_;
    int starts_ = 0;
};

}  // namespace vhostd::test
