// Validators and conditional requests (RFC 9110 sections 8.8 and 13). Pure: no I/O.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace vhostd::static_files {

// A strong entity tag from what changes when the file does: its size and modification time.
std::string entity_tag(std::uint64_t size, const std::timespec& modified);

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(std::time_t when);
// Also reads the obsolete RFC 850 and asctime forms, as recipients must.
std::optional<std::time_t> parse_http_date(std::string_view text);

// The request's conditional headers; an absent header is an empty view.
struct Conditions {
    std::string_view if_match{};
    std::string_view if_none_match{};
    std::string_view if_modified_since{};
    std::string_view if_unmodified_since{};
    std::string_view if_range{};
};

enum class Precondition { proceed, not_modified, failed };

// Evaluates the conditions in the order of RFC 9110 section 13.2.2 for a GET or HEAD of a
// representation with this tag and modification time.
Precondition evaluate(const Conditions& conditions, std::string_view tag, std::time_t modified);

// If-Range (section 13.1.5): whether a Range may be honoured. True without If-Range.
bool range_allowed(std::string_view if_range, std::string_view tag, std::time_t modified);

}  // namespace vhostd::static_files
