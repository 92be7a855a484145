#include "tests/integration/support/temp_dir.hpp"

#include <fstream>
#include <stdexcept>

#include <stdlib.h>

namespace vhostd::test {

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vhostd-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& content) const {
    const auto file = path_ / name;
    std::ofstream(file) << content;
    return file;
}

}  // namespace vhostd::test
