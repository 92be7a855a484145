#include "workers/static/mime_type.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace vhostd::static_files {
namespace {

// Sorted by extension for the binary search.
constexpr std::array<std::pair<std::string_view, std::string_view>, 42> types = {{
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"m4a", "audio/mp4"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", "application/xml"},
    {"yaml", "text/yaml; charset=utf-8"},
    {"zip", "application/zip"},
}};

static_assert(std::is_sorted(types.begin(), types.end()), "keep the table sorted");

}  // namespace

std::string_view mime_type(std::string_view file_name) {
    constexpr std::string_view fallback = "application/octet-stream";
    const auto slash = file_name.rfind('/');
    if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
    const auto dot = file_name.rfind('.');
    if (dot == std::string_view::npos || dot + 1 == file_name.size() || file_name.size() - dot > 16) return fallback;
    std::string extension(file_name.substr(dot + 1));
    std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
    const auto it = std::lower_bound(types.begin(), types.end(), std::string_view(extension),
                                     [](const auto& entry, std::string_view key) { return entry.first < key; });
    return it != types.end() && it->first == extension ? it->second : fallback;
}

}  // namespace vhostd::static_files
