// A certificate authority made for one test with the openssl command line, so that no key
// is ever committed: leaf certificates for given DNS names, signed by it, valid two days.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace vhostd::test {

class TestPki {
public:
    // Creates ca.pem and ca.key in `dir`.
    explicit TestPki(std::filesystem::path dir);

    struct Issued {
        std::string cert;  // PEM: the leaf, then the CA (a chain, as servers are given)
        std::string key;
    };
    enum class KeyType { ecdsa, rsa };

    // `stem`.pem and `stem`.key for `dns_names` (the first one is also the CN); `organization`
    // (O=) tells apart certificates for the same names. Throws when openssl fails.
    Issued issue(const std::string& stem, const std::vector<std::string>& dns_names,
                 const std::string& organization = "vhostd test", KeyType type = KeyType::ecdsa) const;

    std::string ca() const { return (dir_ / "ca.pem").string(); }

private:
    std::filesystem::path dir_;
};

}  // namespace vhostd::test
