// Reason phrases for the statuses vhostd and its workers answer with themselves.
#pragma once

#include <string_view>

namespace vhostd::http {

// "Bad Request" for 400; "Error" for a status not in the table.
std::string_view reason_phrase(int status);

}  // namespace vhostd::http
