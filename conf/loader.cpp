#include "conf/loader.hpp"

#include "conf/sections.hpp"
#include "conf/value_reader.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

namespace vhostd::conf {

std::string ConfigError::to_string() const {
    std::string text = file;
    if (line != 0) {
        text += ':' + std::to_string(line) + ':' + std::to_string(column);
    }
    text += ": ";
    if (!key_path.empty()) {
        text += key_path + ": ";
    }
    return text + message;
}

namespace {

namespace fs = std::filesystem;

// A redirect to https needs somewhere to go.
void check_redirects_have_https(ValueReader& reader, const Config& config, const std::vector<Place>& redirects) {
    const bool has_tls =
        std::any_of(config.listeners.begin(), config.listeners.end(), [](const Listener& l) { return l.tls; });
    if (has_tls) return;
    for (const Place& place : redirects) {
        reader.report(place.position, place.key_path, "needs a [[listen]] with tls = true to redirect to");
    }
}

// The whole document: each top-level key is a section, read by its own file.
Config read_document(ValueReader& reader, const toml::table& root, std::string absolute_path) {
    Config config;
    config.path = std::move(absolute_path);
    std::vector<Place> https_redirects;
    for (const auto& [key, node] : root) {
        const std::string path(key.str());
        if (path == "listen") {
            read_listeners(reader, node, config.listeners);
        } else if (path == "server") {
            read_server(reader, node, config.server);
        } else if (path == "admin") {
            read_admin(reader, node, config.admin);
        } else if (path == "acme") {
            read_acme(reader, node, config.acme);
        } else if (path == "sites") {
            read_sites(reader, node, config.sites, https_redirects);
        } else {
            reader.report_unknown(key, path);
        }
    }
    if (!root.contains("listen")) {
        reader.report(root.source().begin, "listen", "at least one [[listen]] is required");
    }
    if (!root.contains("sites")) {
        reader.report(root.source().begin, "sites", "at least one [sites.NAME] is required");
    }
    check_admin_is_not_public(reader, root, config);
    check_redirects_have_https(reader, config, https_redirects);
    check_auto_tls(reader, root, config);
    return config;
}

// The whole file, or nothing with `error` set to the errno that stopped the read.
std::optional<std::string> read_file(const std::string& path, int& error) {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) {
        error = errno;
        return std::nullopt;
    }
    std::string text;
    char buffer[64 * 1024];
    while (const std::size_t count = std::fread(buffer, 1, sizeof buffer, file.get())) {
        text.append(buffer, count);
    }
    if (std::ferror(file.get())) {
        error = errno;
        return std::nullopt;
    }
    return text;
}

}  // namespace

LoadResult load_config_file(const std::string& path) {
    int error = 0;
    const auto text = read_file(path, error);
    if (!text) {
        return std::vector{ConfigError{path, 0, 0, "", std::string("cannot read file: ") + std::strerror(error)}};
    }
    return load_config_string(*text, path);
}

LoadResult load_config_string(std::string_view text, const std::string& path) {
    toml::table root;
    try {
        root = toml::parse(text, std::string_view(path));
    } catch (const toml::parse_error& error) {
        const toml::source_position& where = error.source().begin;
        return std::vector{ConfigError{path, static_cast<int>(where.line), static_cast<int>(where.column), "",
                                       std::string(error.description())}};
    }
    std::error_code ignored;
    // If the working directory is gone the path stays relative; the sites' cwd check reports that.
    fs::path absolute_file = fs::absolute(path, ignored);
    if (absolute_file.empty()) {
        absolute_file = path;
    }
    absolute_file = absolute_file.lexically_normal();
    ValueReader reader(path, absolute_file.parent_path());
    Config config = read_document(reader, root, absolute_file.string());
    auto errors = reader.take_errors();
    if (!errors.empty()) {
        return errors;
    }
    return config;
}

std::string toml_library_version() {
    return std::to_string(TOML_LIB_MAJOR) + "." + std::to_string(TOML_LIB_MINOR) + "." + std::to_string(TOML_LIB_PATCH);
}

}  // namespace vhostd::conf
