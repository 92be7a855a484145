#include "conf/value_reader.hpp"

#include "conf/units.hpp"
#include "http/host.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace vhostd::conf {

namespace fs = std::filesystem;

namespace {

constexpr const char* duration_hint = "must be a duration like \"10s\" (units ms, s, m, h)";
constexpr const char* size_hint = "must be a size like \"16KiB\" (units B, KiB, MiB, GiB)";
constexpr const char* endpoint_hint = "must be \"host:port\" (IPv6 as \"[::1]:8080\")";

bool is_ascii_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_ascii_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_env_name(std::string_view name) {
    return !name.empty() && !is_ascii_digit(name.front()) && std::all_of(name.begin(), name.end(), [](char c) {
        return is_ascii_letter(c) || is_ascii_digit(c) || c == '_';
    });
}

bool is_ipv4(std::string_view text) {
    const std::string terminated(text);
    in_addr address{};
    return inet_pton(AF_INET, terminated.c_str(), &address) == 1;
}

bool is_ipv6(std::string_view text) {
    const std::string terminated(text);
    in6_addr address{};
    return inet_pton(AF_INET6, terminated.c_str(), &address) == 1;
}

// Splits "host:port" (IPv6 as "[::1]:8080"); on failure sets `problem`.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& problem) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        problem = endpoint_hint;
        return std::nullopt;
    }
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (host.starts_with('[')) {
        if (host.size() < 2 || !host.ends_with(']') || !is_ipv6(host.substr(1, host.size() - 2))) {
            problem = "host is not a valid IPv6 address";
            return std::nullopt;
        }
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        problem = "an IPv6 host must be in brackets, like \"[::1]:8080\"";
        return std::nullopt;
    } else if (!is_ipv4(host)) {
        // Names are not resolved: a listener binds exactly the address written.
        problem = "host must be an IP address (\"0.0.0.0\", \"127.0.0.1\", \"[::]\"), not a name";
        return std::nullopt;
    }
    unsigned port = 0;
    const char* const port_end = port_text.data() + port_text.size();
    const auto [parsed_end, error] = std::from_chars(port_text.data(), port_end, port);
    if (error != std::errc{} || parsed_end != port_end || port == 0 || port > 65535) {
        problem = "port must be between 1 and 65535";
        return std::nullopt;
    }
    return Endpoint{std::string(host), static_cast<std::uint16_t>(port)};
}

// "/a/b/" -> "/a/b", so a directory has one spelling whichever way it was written.
fs::path without_trailing_separator(const fs::path& path) {
    if (!path.has_filename() && path != path.root_path()) {
        return path.parent_path();
    }
    return path;
}

}  // namespace

std::string child(std::string_view parent, std::string_view key) {
    return std::string(parent) + '.' + std::string(key);
}

std::string element(std::string_view array, std::size_t index) {
    return std::string(array) + '[' + std::to_string(index) + ']';
}

std::string describe(const Place& place) {
    return place.key_path + " (line " + std::to_string(place.position.line) + ", column " +
           std::to_string(place.position.column) + ")";
}

ValueReader::ValueReader(std::string file, fs::path config_dir)
    : file_(std::move(file)), config_dir_(std::move(config_dir)) {}

std::vector<ConfigError> ValueReader::take_errors() {
    // Problems are found per section; the user reads the file top to bottom.
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
        return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    return std::move(errors_);
}

void ValueReader::report(toml::source_position where, std::string key_path, std::string message) {
    errors_.push_back(ConfigError{file_, static_cast<int>(where.line), static_cast<int>(where.column),
                                  std::move(key_path), std::move(message)});
}

void ValueReader::report(const toml::node& node, std::string key_path, std::string message) {
    report(node.source().begin, std::move(key_path), std::move(message));
}

void ValueReader::report_unknown(const toml::key& key, std::string key_path) {
    report(key.source().begin, std::move(key_path), "unknown key");
}

void ValueReader::report_missing(const toml::table& enclosing, std::string key_path) {
    report(enclosing.source().begin, std::move(key_path), "is required");
}

const toml::table* ValueReader::table_at(const toml::node& node, const std::string& path) {
    const auto* table = node.as_table();
    if (!table) {
        report(node, path, "must be a table");
    }
    return table;
}

const toml::array* ValueReader::array_at(const toml::node& node, const std::string& path) {
    const auto* array = node.as_array();
    if (!array) {
        report(node, path, "must be an array");
    }
    return array;
}

bool ValueReader::read_bool(const toml::node& node, const std::string& path, bool& into) {
    if (const auto* value = node.as_boolean()) {
        into = value->get();
        return true;
    }
    report(node, path, "must be a boolean");
    return false;
}

bool ValueReader::read_integer_value(const toml::node& node, const std::string& path, std::int64_t min,
                                     std::int64_t max, std::int64_t& into) {
    const auto* number = node.as_integer();
    if (!number) {
        report(node, path, "must be an integer");
    } else if (number->get() < min || number->get() > max) {
        report(node, path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    } else {
        into = number->get();
        return true;
    }
    return false;
}

// Every string ends up in a C API (exec, environ, bind), where a NUL would cut it short.
bool ValueReader::read_string(const toml::node& node, const std::string& path, std::string& into) {
    const auto* text = node.as_string();
    if (!text) {
        report(node, path, "must be a string");
        return false;
    }
    if (text->get().find('\0') != std::string::npos) {
        report(node, path, "must not contain a NUL character");
        return false;
    }
    into = text->get();
    return true;
}

bool ValueReader::read_nonempty_string(const toml::node& node, const std::string& path, std::string& into) {
    std::string text;
    if (!read_string(node, path, text)) {
        return false;
    }
    if (text.empty()) {
        report(node, path, "must not be empty");
        return false;
    }
    into = std::move(text);
    return true;
}

bool ValueReader::read_path(const toml::node& node, const std::string& path, std::string& into) {
    std::string text;
    if (!read_nonempty_string(node, path, text)) {
        return false;
    }
    into = without_trailing_separator((config_dir_ / text).lexically_normal()).string();
    return true;
}

bool ValueReader::read_duration(const toml::node& node, const std::string& path, Zero zero, Duration& into) {
    const auto* text = node.as_string();
    const auto duration = text ? parse_duration(text->get()) : std::nullopt;
    if (!duration) {
        report(node, path, duration_hint);
    } else if (zero == Zero::rejected && duration->count() == 0) {
        report(node, path, "must be greater than 0");
    } else {
        into = *duration;
        return true;
    }
    return false;
}

bool ValueReader::read_size(const toml::node& node, const std::string& path, std::uint64_t& into) {
    const auto* text = node.as_string();
    const auto size = text ? parse_size(text->get()) : std::nullopt;
    if (!size) {
        report(node, path, size_hint);
        return false;
    }
    into = *size;
    return true;
}

bool ValueReader::read_size_between(const toml::node& node, const std::string& path, std::uint64_t minimum,
                                    std::uint64_t maximum, std::string_view minimum_text,
                                    std::string_view maximum_text, std::uint64_t& into) {
    std::uint64_t size = 0;
    if (!read_size(node, path, size)) {
        return false;
    }
    if (size < minimum || size > maximum) {
        report(node, path, "must be between " + std::string(minimum_text) + " and " + std::string(maximum_text));
        return false;
    }
    into = size;
    return true;
}

bool ValueReader::read_size_at_least(const toml::node& node, const std::string& path, std::uint64_t minimum,
                                     std::string_view minimum_text, std::uint64_t& into) {
    std::uint64_t size = 0;
    if (!read_size(node, path, size)) {
        return false;
    }
    if (size < minimum) {
        report(node, path, "must be at least " + std::string(minimum_text));
        return false;
    }
    into = size;
    return true;
}

bool ValueReader::read_endpoint(const toml::node& node, const std::string& path, std::string& address,
                                Endpoint& into) {
    if (!read_string(node, path, address)) {
        return false;
    }
    std::string problem;
    auto endpoint = parse_endpoint(address, problem);
    if (!endpoint) {
        report(node, path, problem);
        return false;
    }
    into = std::move(*endpoint);
    return true;
}

bool ValueReader::read_address_ranges(const toml::node& node, const std::string& path,
                                      std::vector<AddressRange>& into) {
    const auto* ranges = array_at(node, path);
    if (!ranges) {
        return false;
    }
    if (ranges->empty()) {
        report(node, path, "must list at least one address or range");
    }
    for (std::size_t index = 0; index < ranges->size(); ++index) {
        const std::string entry_path = element(path, index);
        std::string text;
        if (!read_string((*ranges)[index], entry_path, text)) {
            continue;
        }
        if (auto range = parse_address_range(text)) {
            into.push_back(*range);
        } else {
            report((*ranges)[index], entry_path, "must be an IP address or a range like \"10.0.0.0/8\"");
        }
    }
    return true;
}

std::optional<std::string> ValueReader::read_host_pattern(const toml::node& node, const std::string& path) {
    std::string text;
    if (!read_string(node, path, text)) {
        return std::nullopt;
    }
    // The one host grammar (http/host.hpp), so the router matches exactly what was accepted.
    std::string problem;
    auto host = http::normalize_host_pattern(text, &problem);
    if (!host) {
        report(node, path, problem);
    }
    return host;
}

bool ValueReader::read_program(const toml::node& node, const std::string& path, std::vector<std::string>& into) {
    const auto* parts = array_at(node, path);
    if (!parts) {
        return false;
    }
    if (parts->empty()) {
        report(node, path, "must name a program to run");
        return false;
    }
    std::vector<std::string> command;
    for (std::size_t index = 0; index < parts->size(); ++index) {
        const std::string part_path = element(path, index);
        std::string part;
        if (read_nonempty_string((*parts)[index], part_path, part)) {
            command.push_back(std::move(part));
        }
    }
    if (command.size() != parts->size()) {
        return false;
    }
    // "./app" and "bin/app" mean next to the config file; a bare "python3" is for PATH lookup.
    const fs::path program(command.front());
    if (program.is_relative() && command.front().find('/') != std::string::npos) {
        command.front() = (config_dir_ / program).lexically_normal().string();
    }
    into = std::move(command);
    return true;
}

bool ValueReader::read_env_table(const toml::node& node, const std::string& path,
                                 std::map<std::string, std::string>& into) {
    const auto* variables = table_at(node, path);
    if (!variables) {
        return false;
    }
    for (const auto& [key, value] : *variables) {
        const std::string key_path = child(path, key.str());
        std::string text;
        if (!is_env_name(key.str())) {
            report(key.source().begin, key_path, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
        } else if (read_string(value, key_path, text)) {
            into.emplace(key.str(), std::move(text));
        }
    }
    return true;
}

}  // namespace vhostd::conf
