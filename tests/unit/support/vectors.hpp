// The golden vector files under tests/vectors/, shared by the C++, Node and Python suites.
// A test target that uses this defines VHOSTD_VECTORS_DIR (tests/CMakeLists.txt).
#pragma once

#include <boost/json.hpp>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace vhostd::test_support {

// The parsed file `name` (e.g. "hosts.json"); throws, failing the test, when it is missing.
inline boost::json::object read_vectors(const std::string& name) {
    const std::string path = std::string(VHOSTD_VECTORS_DIR) + "/" + name;
    std::ifstream file(path);
    if (!file) throw std::runtime_error("cannot read " + path);
    const std::string text{std::istreambuf_iterator<char>(file), {}};
    return boost::json::parse(text).as_object();
}

// A vector's string field as a std::string.
inline std::string text(const boost::json::value& value) { return std::string(value.as_string()); }

}  // namespace vhostd::test_support
