// The `vhostctl status` table, drawn from a GET /status document (docs/status.md).
// Pure: JSON in, text out, so it can be tested without a running vhostd.
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace vhostd::ctl {

// One line about the server, then one line per site and, under each site, one indented
// line per worker. Fields the document lacks show as "-": the schema is a draft and an
// older or newer vhostd must still give a readable table.
// Throws std::invalid_argument when `status` is not a JSON object.
std::string render_status_table(const boost::json::value& status);

// `vhostctl certs`: one line per certificate of a tls = "auto" name: its state, issuer,
// expiry (UTC), the next attempt (from `now_unix`, seconds since 1970) and the last error.
// Throws std::invalid_argument when `status` is not a JSON object.
std::string render_certificates_table(const boost::json::value& status, double now_unix);

}  // namespace vhostd::ctl
