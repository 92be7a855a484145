# Turns the dashboard page into a C++ source defining a function that returns its bytes.
# The page's style and script live in files of their own; each /*@NAME@*/ marker in the
# page is replaced by the file NAME beside it, so the binary serves one self-contained page.
#   cmake -DINPUT=... -DOUTPUT=... -DFUNCTION=... -P embed.cmake
file(READ "${INPUT}" page)
get_filename_component(directory "${INPUT}" DIRECTORY)
string(REGEX MATCHALL "/\\*@[A-Za-z0-9_.-]+@\\*/" markers "${page}")
foreach(marker IN LISTS markers)
  string(REGEX REPLACE "^/\\*@(.*)@\\*/$" "\\1" name "${marker}")
  file(READ "${directory}/${name}" part)
  string(REPLACE "${marker}" "${part}" page "${page}")
endforeach()
file(WRITE "${OUTPUT}.page" "${page}")
file(READ "${OUTPUT}.page" hex HEX)
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
