#include "tests/integration/support/test_pki.hpp"

#include "tests/integration/support/vhostd_process.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace vhostd::test {

namespace {

std::vector<std::string> key_arguments(TestPki::KeyType type) {
    if (type == TestPki::KeyType::rsa) return {"-newkey", "rsa:2048"};
    return {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"};
}

void run_openssl(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), "/usr/bin/openssl");
    const auto [status, output] = run_command(arguments);
    if (status != 0) throw std::runtime_error("openssl failed: " + output);
}

}  // namespace

TestPki::TestPki(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::vector<std::string> arguments{"req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=vhostd test CA",
                                       "-keyout", (dir_ / "ca.key").string(), "-out", ca(),
                                       "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"};
    const auto key = key_arguments(KeyType::ecdsa);
    arguments.insert(arguments.begin() + 1, key.begin(), key.end());
    run_openssl(arguments);
}

TestPki::Issued TestPki::issue(const std::string& stem, const std::vector<std::string>& dns_names, const std::string& organization,
                               KeyType type) const {
    Issued issued{(dir_ / (stem + ".pem")).string(), (dir_ / (stem + ".key")).string()};
    std::string names;
    for (const std::string& name : dns_names) names += (names.empty() ? "DNS:" : ",DNS:") + name;
    // OpenSSL 3's `req -x509 -CA` signs with the CA in one step.
    std::vector<std::string> arguments{"req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=" + dns_names.front() + "/O=" + organization,
                                       "-addext", "subjectAltName=" + names, "-CA", ca(), "-CAkey", (dir_ / "ca.key").string(),
                                       "-keyout", issued.key, "-out", issued.cert};
    const auto key = key_arguments(type);
    arguments.insert(arguments.begin() + 1, key.begin(), key.end());
    run_openssl(arguments);
    // Servers are given the chain, leaf first.
    std::ifstream ca_file(ca());
    std::ostringstream chain;
    chain << ca_file.rdbuf();
    std::ofstream(issued.cert, std::ios::app) << chain.str();
    return issued;
}

}  // namespace vhostd::test
