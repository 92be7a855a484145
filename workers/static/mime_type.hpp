// The Content-Type for a file name, by its extension. Pure: no I/O.
#pragma once

#include <string_view>

namespace vhostd::static_files {

// Case-insensitive on the extension; text types carry "; charset=utf-8". Unknown extensions
// get application/octet-stream, so that a browser never guesses a type and runs it.
std::string_view mime_type(std::string_view file_name);

}  // namespace vhostd::static_files
