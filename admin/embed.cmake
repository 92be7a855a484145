# Turns a file into a C++ source defining a function that returns its bytes.
#   cmake -DINPUT=... -DOUTPUT=... -DFUNCTION=... -P embed.cmake
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
file(WRITE "${OUTPUT}"
"// Generated from ${INPUT} by admin/embed.cmake; do not edit.
#include \"admin/dashboard.hpp\"

namespace vhostd::admin {

namespace {
constexpr char bytes[] = {${bytes} '\\0'};
}  // namespace

std::string_view ${FUNCTION}() { return {bytes, sizeof bytes - 1}; }

}  // namespace vhostd::admin
")
