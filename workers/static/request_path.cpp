#include "workers/static/request_path.hpp"

#include <vector>

namespace vhostd::static_files {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string_view origin_form(std::string_view target) {
    for (std::string_view scheme : {"http://", "https://"}) {
        if (target.size() >= scheme.size() && std::equal(scheme.begin(), scheme.end(), target.begin(), [](char a, char b) {
                return a == (b | 0x20);
            })) {
            target.remove_prefix(scheme.size());
            const auto slash = target.find('/');
            return slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        }
    }
    return target;
}

std::optional<RequestPath> parse_request_path(std::string_view target, bool allow_dot_files) {
    const std::string_view with_query = origin_form(target);
    const std::string_view path = with_query.substr(0, with_query.find_first_of("?#"));
    if (path.empty() || path.front() != '/') return std::nullopt;

    std::vector<std::string> segments;
    std::string segment;
    bool directory_form = true;
    // Decoding and splitting in one pass: an encoded "/" must not split, so it is refused.
    auto close_segment = [&]() -> bool {
        directory_form = segment.empty() || segment == "." || segment == "..";
        if (segment == "..") {
            if (segments.empty()) return false;
            segments.pop_back();
        } else if (!segment.empty() && segment != ".") {
            // ".well-known" (RFC 8615) holds what is meant to be fetched: ACME challenges.
            if (segment.front() == '.' && !allow_dot_files && !(segments.empty() && segment == ".well-known")) return false;
            segments.push_back(std::move(segment));
        }
        segment.clear();
        return true;
    };
    for (std::size_t i = 1; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '/') {
            if (!close_segment()) return std::nullopt;
            continue;
        }
        char c = path[i];
        if (c == '%') {
            if (i + 2 >= path.size()) return std::nullopt;
            const int high = hex_value(path[i + 1]);
            const int low = hex_value(path[i + 2]);
            if (high < 0 || low < 0) return std::nullopt;
            c = static_cast<char>(high * 16 + low);
            if (c == '\0' || c == '/') return std::nullopt;
            i += 2;
        }
        segment.push_back(c);
    }

    RequestPath result;
    result.directory_form = directory_form;
    for (const std::string& part : segments) {
        if (!result.relative.empty()) result.relative.push_back('/');
        result.relative += part;
    }
    return result;
}

}  // namespace vhostd::static_files
