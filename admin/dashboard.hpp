// The dashboard page (admin/dashboard.html with dashboard.css and dashboard.js inlined),
// compiled into the binary: no files to install.
#pragma once

#include <string_view>

namespace vhostd::admin {

std::string_view dashboard_html();

}  // namespace vhostd::admin
