#include "conf/loader.hpp"

#include "conf/certificate_check.hpp"
#include "conf/units.hpp"

#include <toml++/toml.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
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

constexpr const char* duration_hint = "must be a duration like \"10s\" (units ms, s, m, h)";
constexpr const char* size_hint = "must be a size like \"16KiB\" (units B, KiB, MiB, GiB)";
constexpr const char* endpoint_hint = "must be \"host:port\" (IPv6 as \"[::1]:8080\")";

std::string child(std::string_view parent, std::string_view key) {
    return std::string(parent) + '.' + std::string(key);
}

std::string element(std::string_view array, std::size_t index) {
    return std::string(array) + '[' + std::to_string(index) + ']';
}

bool is_ascii_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_ascii_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_site_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return is_ascii_letter(c) || is_ascii_digit(c) || c == '-' || c == '_';
    });
}

bool is_env_name(std::string_view name) {
    return !name.empty() && !is_ascii_digit(name.front()) && std::all_of(name.begin(), name.end(), [](char c) {
        return is_ascii_letter(c) || is_ascii_digit(c) || c == '_';
    });
}

// Dot-separated labels of letters, digits, '-' and '_', at most 63 bytes a label and 253 in
// all (the router refuses anything longer). Underscores are not legal in DNS host names but
// do occur in internal names, so they are let through.
bool is_hostname(std::string_view name) {
    constexpr std::size_t max_label = 63;
    constexpr std::size_t max_name = 253;
    if (name.size() > max_name) {
        return false;
    }
    std::size_t label_length = 0;
    for (const char c : name) {
        if (c == '.') {
            if (label_length == 0) {
                return false;
            }
            label_length = 0;
        } else if (is_ascii_letter(c) || is_ascii_digit(c) || c == '-' || c == '_') {
            if (++label_length > max_label) {
                return false;
            }
        } else {
            return false;
        }
    }
    return label_length != 0;
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

// Lower-cases a site's host pattern and drops one trailing dot, as router/ does with a
// request's Host, so both sides compare equal; on failure sets `problem`.
std::optional<std::string> normalise_host_pattern(std::string_view text, std::string& problem) {
    std::string host(text);
    std::transform(host.begin(), host.end(), host.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    if (host.ends_with('.')) {
        host.pop_back();
    }
    if (host.starts_with('[')) {
        const auto close = host.find(']');
        if (close != std::string::npos && close + 1 < host.size() && host[close + 1] == ':') {
            problem = "must not include a port";
        } else if (close + 1 != host.size() || !is_ipv6(std::string_view(host).substr(1, close - 1))) {
            problem = "is not a valid bracketed IPv6 address";
        } else {
            return host;
        }
        return std::nullopt;
    }
    if (host.find(':') != std::string::npos) {
        problem = is_ipv6(host) ? "an IPv6 address must be in brackets, like \"[::1]\"" : "must not include a port";
        return std::nullopt;
    }
    const bool valid = host.starts_with("*.") ? is_hostname(std::string_view(host).substr(2)) : is_hostname(host);
    if (!valid) {
        problem = "must be a host name, \"*.suffix\", an IPv4 address or a bracketed IPv6 address";
        return std::nullopt;
    }
    return host;
}

// "/a/b/" -> "/a/b", so a directory has one spelling whichever way it was written.
fs::path without_trailing_separator(const fs::path& path) {
    if (!path.has_filename() && path != path.root_path()) {
        return path.parent_path();
    }
    return path;
}

// Where a value sits, so a later conflict (same host, second default) can point back to it.
struct Place {
    std::string key_path;
    toml::source_position position;
};

std::string describe(const Place& place) {
    return place.key_path + " (line " + std::to_string(place.position.line) + ", column " +
           std::to_string(place.position.column) + ")";
}

enum class Zero { allowed, rejected };

// The pool-size keys of one site as written: they are checked against each other once all
// are read, because toml++ hands keys over sorted, not in file order.
struct PoolKeys {
    const toml::key* workers = nullptr;
    const toml::key* min_workers = nullptr;
    const toml::key* max_workers = nullptr;
    const toml::node* min_value = nullptr;
    // Set only when the value itself was valid.
    std::optional<unsigned> fixed;
    std::optional<unsigned> min;
    std::optional<unsigned> max;
};

// Walks a parsed document into a Config, collecting every problem instead of stopping at
// the first, so one run of `vhostd --check` shows them all.
class Reader {
public:
    Reader(std::string file, fs::path absolute_file)
        : file_(std::move(file)), config_dir_(absolute_file.parent_path()) {
        config_.path = absolute_file.string();
    }

    Config read(const toml::table& root);
    void check_admin_is_not_public(const toml::table& root);

    std::vector<ConfigError> take_errors() {
        // Problems are found per section; the user reads the file top to bottom.
        std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
            return std::pair(a.line, a.column) < std::pair(b.line, b.column);
        });
        return std::move(errors_);
    }

private:
    void report(toml::source_position where, std::string key_path, std::string message) {
        errors_.push_back(ConfigError{file_, static_cast<int>(where.line), static_cast<int>(where.column),
                                      std::move(key_path), std::move(message)});
    }

    void report(const toml::node& node, std::string key_path, std::string message) {
        report(node.source().begin, std::move(key_path), std::move(message));
    }

    void report_unknown(const toml::key& key, std::string key_path) {
        report(key.source().begin, std::move(key_path), "unknown key");
    }

    void report_missing(const toml::table& enclosing, std::string key_path) {
        report(enclosing.source().begin, std::move(key_path), "is required");
    }

    const toml::table* table_at(const toml::node& node, const std::string& path) {
        const auto* table = node.as_table();
        if (!table) {
            report(node, path, "must be a table");
        }
        return table;
    }

    const toml::array* array_at(const toml::node& node, const std::string& path) {
        const auto* array = node.as_array();
        if (!array) {
            report(node, path, "must be an array");
        }
        return array;
    }

    void read_bool(const toml::node& node, const std::string& path, bool& into) {
        if (const auto* value = node.as_boolean()) {
            into = value->get();
        } else {
            report(node, path, "must be a boolean");
        }
    }

    template <typename Int>
    bool read_integer(const toml::node& node, const std::string& path, std::int64_t min, std::int64_t max,
                      Int& into) {
        const auto* number = node.as_integer();
        if (!number) {
            report(node, path, "must be an integer");
        } else if (number->get() < min || number->get() > max) {
            report(node, path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
        } else {
            into = static_cast<Int>(number->get());
            return true;
        }
        return false;
    }

    // Every string ends up in a C API (exec, environ, bind), where a NUL would cut it short.
    bool read_string(const toml::node& node, const std::string& path, std::string& into) {
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

    bool read_nonempty_string(const toml::node& node, const std::string& path, std::string& into) {
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

    // A directory relative to the config file, stored absolute and with one spelling.
    bool read_directory(const toml::node& node, const std::string& path, std::string& into) {
        std::string text;
        if (!read_nonempty_string(node, path, text)) {
            return false;
        }
        into = without_trailing_separator((config_dir_ / text).lexically_normal()).string();
        return true;
    }

    void read_duration(const toml::node& node, const std::string& path, Zero zero, Duration& into) {
        const auto* text = node.as_string();
        const auto duration = text ? parse_duration(text->get()) : std::nullopt;
        if (!duration) {
            report(node, path, duration_hint);
        } else if (zero == Zero::rejected && duration->count() == 0) {
            report(node, path, "must be greater than 0");
        } else {
            into = *duration;
        }
    }

    std::optional<std::uint64_t> read_size(const toml::node& node, const std::string& path) {
        const auto* text = node.as_string();
        const auto size = text ? parse_size(text->get()) : std::nullopt;
        if (!size) {
            report(node, path, size_hint);
        }
        return size;
    }

    // `minimum_text` is `minimum` as the user would write it, for the message.
    void read_size_at_least(const toml::node& node, const std::string& path, std::uint64_t minimum,
                            std::string_view minimum_text, std::uint64_t& into) {
        if (const auto size = read_size(node, path)) {
            if (*size < minimum) {
                report(node, path, "must be at least " + std::string(minimum_text));
            } else {
                into = *size;
            }
        }
    }

    std::optional<Endpoint> read_endpoint(const toml::node& node, const std::string& path, std::string& address) {
        if (!read_string(node, path, address)) {
            return std::nullopt;
        }
        std::string problem;
        auto endpoint = parse_endpoint(address, problem);
        if (!endpoint) {
            report(node, path, problem);
        }
        return endpoint;
    }

    void read_listeners(const toml::node& node);
    void read_listener(const toml::table& table, const std::string& path);
    void read_address_ranges(const toml::node& node, const std::string& path, std::vector<AddressRange>& into);
    void read_server(const toml::node& node);
    void read_admin(const toml::node& node);
    void read_sites(const toml::node& node);
    void read_site(std::string_view name, const toml::table& table, const std::string& path);
    void read_hosts(const toml::node& node, const std::string& path, Site& site);
    void read_command(const toml::node& node, const std::string& path, Site& site);
    void read_env(const toml::node& node, const std::string& path, Site& site);
    void read_env_table(const toml::node& node, const std::string& path, std::map<std::string, std::string>& env);
    std::optional<std::vector<std::string>> read_program(const toml::node& node, const std::string& path);
    void read_singleton(const toml::node& node, const std::string& path, Site& site);
    void read_tasks(const toml::node& node, const std::string& path, Site& site);
    void read_watch(const toml::node& node, const std::string& path, Site& site);
    void read_restart_limit(const toml::node& node, const std::string& path, RestartLimit& limit);
    void read_restart_backoff(const toml::node& node, const std::string& path, RestartBackoff& backoff);
    void read_resource_limits(const toml::node& node, const std::string& path, ResourceLimits& limits);
    void read_tls(const toml::node& node, const std::string& path, Site& site);
    void read_certificate(const toml::table& table, const std::string& path, Site& site);
    void read_tls_mode(const toml::node& node, const std::string& path, Site& site);
    void read_runtime(const toml::node& node, const std::string& path, std::optional<Runtime>& runtime);
    void read_static_root(const toml::node& node, const std::string& path, Site& site);
    void settle_program(const toml::table& table, const std::string& path, std::optional<Runtime> runtime, Site& site);
    void check_redirects_have_https();
    void settle_pool(const PoolKeys& keys, const std::string& path, Site& site);
    void claim_host(const std::string& host, Place place);
    void claim_default(Place place);

    std::string file_;
    fs::path config_dir_;
    Config config_;
    std::vector<ConfigError> errors_;
    std::map<std::string, Place> host_owners_;
    std::optional<Place> default_site_;
    std::vector<Place> https_redirects_;  // sites with https_redirect = true
};

Config Reader::read(const toml::table& root) {
    for (const auto& [key, node] : root) {
        const std::string path(key.str());
        if (path == "listen") {
            read_listeners(node);
        } else if (path == "server") {
            read_server(node);
        } else if (path == "admin") {
            read_admin(node);
        } else if (path == "sites") {
            read_sites(node);
        } else {
            report_unknown(key, path);
        }
    }
    if (!root.contains("listen")) {
        report(root.source().begin, "listen", "at least one [[listen]] is required");
    }
    if (!root.contains("sites")) {
        report(root.source().begin, "sites", "at least one [sites.NAME] is required");
    }
    check_admin_is_not_public(root);
    check_redirects_have_https();
    return std::move(config_);
}

// The admin endpoint steers vhostd: it must never share a port with a public listener.
void Reader::check_admin_is_not_public(const toml::table& root) {
    if (!config_.admin || config_.admin->endpoint.port == 0) return;
    const Endpoint& admin = config_.admin->endpoint;
    auto wildcard = [](const std::string& host) { return host == "0.0.0.0" || host == "::"; };
    for (const Listener& listener : config_.listeners) {
        const Endpoint& public_endpoint = listener.endpoint;
        const bool overlaps = public_endpoint.host == admin.host || wildcard(public_endpoint.host) || wildcard(admin.host);
        if (public_endpoint.port == admin.port && overlaps) {
            const toml::node* listen = root.at_path("admin.listen").node();
            report(listen != nullptr ? listen->source().begin : root.source().begin, "admin.listen",
                   "must not be the address of a public listener (" + listener.address + ")");
            return;
        }
    }
}

void Reader::read_listeners(const toml::node& node) {
    const auto* listeners = node.as_array();
    if (!listeners) {
        report(node, "listen", "must be an array of tables, written [[listen]]");
        return;
    }
    if (listeners->empty()) {
        report(node, "listen", "at least one [[listen]] is required");
    }
    for (std::size_t index = 0; index < listeners->size(); ++index) {
        const std::string path = element("listen", index);
        if (const auto* table = table_at((*listeners)[index], path)) {
            read_listener(*table, path);
        }
    }
}

void Reader::read_listener(const toml::table& table, const std::string& path) {
    Listener listener;
    for (const auto& [key, node] : table) {
        const std::string key_path = child(path, key.str());
        if (key.str() == "address") {
            if (auto endpoint = read_endpoint(node, key_path, listener.address)) {
                listener.endpoint = std::move(*endpoint);
            }
        } else if (key.str() == "tls") {
            read_bool(node, key_path, listener.tls);
        } else if (key.str() == "proxy_protocol") {
            read_bool(node, key_path, listener.proxy_protocol);
        } else if (key.str() == "proxy_from") {
            read_address_ranges(node, key_path, listener.proxy_from);
        } else {
            report_unknown(key, key_path);
        }
    }
    if (!table.contains("address")) {
        report_missing(table, child(path, "address"));
    }
    // Accepting a PROXY header from anyone would let any client claim any address.
    if (listener.proxy_protocol && !table.contains("proxy_from")) {
        report(table.source().begin, child(path, "proxy_from"), "is required with proxy_protocol = true: the load balancers' addresses");
    } else if (!listener.proxy_protocol && table.contains("proxy_from")) {
        report(*table.get("proxy_from"), child(path, "proxy_from"), "needs proxy_protocol = true");
    }
    config_.listeners.push_back(std::move(listener));
}

void Reader::read_address_ranges(const toml::node& node, const std::string& path, std::vector<AddressRange>& into) {
    const auto* ranges = array_at(node, path);
    if (!ranges) {
        return;
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
}

void Reader::read_server(const toml::node& node) {
    const auto* table = table_at(node, "server");
    if (!table) {
        return;
    }
    ServerSettings& server = config_.server;
    for (const auto& [key, value] : *table) {
        const std::string path = child("server", key.str());
        if (key.str() == "threads") {
            read_integer(value, path, 1, 64, server.threads);
        } else if (key.str() == "head_timeout") {
            read_duration(value, path, Zero::rejected, server.head_timeout);
        } else if (key.str() == "max_head_size") {
            if (const auto size = read_size(value, path)) {
                if (*size < 1024 || *size > 1024 * 1024) {
                    report(value, path, "must be between 1KiB and 1MiB");
                } else {
                    server.max_head_size = *size;
                }
            }
        } else if (key.str() == "max_header_fields") {
            read_integer(value, path, 1, 1000, server.max_header_fields);
        } else if (key.str() == "max_waiting_heads") {
            read_integer(value, path, 1, 10'000'000, server.max_waiting_heads);
        } else if (key.str() == "max_waiting_heads_per_ip") {
            read_integer(value, path, 1, 10'000'000, server.max_waiting_heads_per_ip);
        } else if (key.str() == "max_connections_per_ip") {
            read_integer(value, path, 1, 10'000'000, server.max_connections_per_ip);
        } else if (key.str() == "backlog") {
            read_integer(value, path, 1, 65535, server.backlog);
        } else if (key.str() == "user") {
            read_nonempty_string(value, path, server.user);
        } else if (key.str() == "group") {
            read_nonempty_string(value, path, server.group);
        } else if (key.str() == "log_dir") {
            if (read_directory(value, path, server.log_dir) && !fs::path(server.log_dir).is_absolute()) {
                report(value, path, "must resolve to an absolute path");
            }
        } else if (key.str() == "access_log") {
            // A file path, resolved like a directory against the config file.
            read_directory(value, path, server.access_log);
        } else if (key.str() == "access_log_format") {
            std::string format;
            if (read_nonempty_string(value, path, format)) {
                if (format == "json") {
                    server.access_log_json = true;
                } else if (format != "plain") {
                    report(value, path, "must be \"plain\" or \"json\"");
                }
            }
        } else if (key.str() == "log_max_size") {
            read_size_at_least(value, path, 64 * 1024, "64KiB", server.log_max_size);
        } else if (key.str() == "log_files") {
            read_integer(value, path, 1, 100, server.log_files);
        } else {
            report_unknown(key, path);
        }
    }
}

void Reader::read_admin(const toml::node& node) {
    const auto* table = table_at(node, "admin");
    if (!table) {
        return;
    }
    AdminSettings admin;
    for (const auto& [key, value] : *table) {
        const std::string path = child("admin", key.str());
        if (key.str() == "listen") {
            if (auto endpoint = read_endpoint(value, path, admin.address)) {
                admin.endpoint = std::move(*endpoint);
            }
        } else if (key.str() == "token_file") {
            // A file path, resolved like a directory against the config file.
            read_directory(value, path, admin.token_file);
        } else {
            report_unknown(key, path);
        }
    }
    if (!table->contains("listen")) {
        report_missing(*table, "admin.listen");
    }
    config_.admin = std::move(admin);
}

void Reader::read_sites(const toml::node& node) {
    const auto* sites = table_at(node, "sites");
    if (!sites) {
        return;
    }
    if (sites->empty()) {
        report(*sites, "sites", "at least one [sites.NAME] is required");
    }
    struct Entry {
        std::string_view name;
        const toml::table* table;
    };
    std::vector<Entry> entries;
    for (const auto& [key, value] : *sites) {
        const std::string path = child("sites", key.str());
        if (!is_site_name(key.str())) {
            report(key.source().begin, path, "site name must use only letters, digits, '-' and '_'");
        } else if (const auto* table = table_at(value, path)) {
            entries.push_back({key.str(), table});
        }
    }
    // toml++ keeps keys sorted; the user expects sites (and "already listed at" hints) in
    // the order they were written.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.table->source().begin < b.table->source().begin;
    });
    for (const Entry& entry : entries) {
        read_site(entry.name, *entry.table, child("sites", entry.name));
    }
}

void Reader::read_site(std::string_view name, const toml::table& table, const std::string& path) {
    Site site;
    site.name = name;
    site.cwd = config_dir_.string();
    const toml::node* hosts = nullptr;
    const toml::node* cwd = nullptr;
    PoolKeys pool;
    std::optional<Runtime> runtime;
    const toml::node* tasks = nullptr;
    for (const auto& [key, node] : table) {
        const std::string_view key_name = key.str();
        const std::string key_path = child(path, key_name);
        if (key_name == "hosts") {
            hosts = &node;  // checked once `default` is known, wherever it was written
        } else if (key_name == "command") {
            read_command(node, key_path, site);
        } else if (key_name == "static") {
            read_static_root(node, key_path, site);
        } else if (key_name == "upstream") {
            read_command(node, key_path, site);
            if (!site.command.empty()) site.command.insert(site.command.begin(), {"vhostd-upstream", "--"});
        } else if (key_name == "runtime") {
            read_runtime(node, key_path, runtime);
        } else if (key_name == "watch") {
            read_watch(node, key_path, site);
        } else if (key_name == "watch_debounce") {
            read_duration(node, key_path, Zero::allowed, site.watch_debounce);
        } else if (key_name == "singleton") {
            read_singleton(node, key_path, site);
        } else if (key_name == "tasks") {
            tasks = &node;  // read once the singleton is known, wherever it was written
        } else if (key_name == "workers") {
            pool.workers = &key;
            if (unsigned count = 0; read_integer(node, key_path, 1, 256, count)) {
                pool.fixed = count;
            }
        } else if (key_name == "min_workers") {
            pool.min_workers = &key;
            pool.min_value = &node;
            if (unsigned count = 0; read_integer(node, key_path, 0, 256, count)) {
                pool.min = count;
            }
        } else if (key_name == "max_workers") {
            pool.max_workers = &key;
            if (unsigned count = 0; read_integer(node, key_path, 1, 256, count)) {
                pool.max = count;
            }
        } else if (key_name == "idle_timeout") {
            read_duration(node, key_path, Zero::rejected, site.idle_timeout);
        } else if (key_name == "max_requests") {
            read_integer(node, key_path, 0, std::int64_t{1} << 62, site.max_requests);
        } else if (key_name == "start_timeout") {
            read_duration(node, key_path, Zero::rejected, site.start_timeout);
        } else if (key_name == "kill_timeout") {
            read_duration(node, key_path, Zero::rejected, site.kill_timeout);
        } else if (key_name == "user") {
            read_nonempty_string(node, key_path, site.user);
        } else if (key_name == "group") {
            read_nonempty_string(node, key_path, site.group);
        } else if (key_name == "limits") {
            read_resource_limits(node, key_path, site.limits);
        } else if (key_name == "default") {
            read_bool(node, key_path, site.is_default);
            if (site.is_default) {
                claim_default({key_path, node.source().begin});
            }
        } else if (key_name == "max_age") {
            read_duration(node, key_path, Zero::allowed, site.max_age);
        } else if (key_name == "max_memory") {
            site.max_memory = read_size(node, key_path).value_or(site.max_memory);
        } else if (key_name == "heartbeat_timeout") {
            read_duration(node, key_path, Zero::rejected, site.heartbeat_timeout);
        } else if (key_name == "drain_timeout") {
            read_duration(node, key_path, Zero::allowed, site.drain_timeout);
        } else if (key_name == "restart_limit") {
            read_restart_limit(node, key_path, site.restart_limit);
        } else if (key_name == "restart_backoff") {
            read_restart_backoff(node, key_path, site.restart_backoff);
        } else if (key_name == "env") {
            read_env(node, key_path, site);
        } else if (key_name == "cwd") {
            cwd = &node;
            read_directory(node, key_path, site.cwd);
        } else if (key_name == "max_in_flight") {
            read_integer(node, key_path, 1, 1024, site.max_in_flight);
        } else if (key_name == "queue_size") {
            read_integer(node, key_path, 0, 1'000'000, site.queue_size);
        } else if (key_name == "queue_timeout") {
            read_duration(node, key_path, Zero::allowed, site.queue_timeout);
        } else if (key_name == "tls") {
            read_tls(node, key_path, site);
        } else if (key_name == "tls_mode") {
            read_tls_mode(node, key_path, site);
        } else if (key_name == "https_redirect") {
            read_bool(node, key_path, site.https_redirect);
            if (site.https_redirect) https_redirects_.push_back({key_path, node.source().begin});
        } else {
            report_unknown(key, key_path);
        }
    }
    settle_program(table, path, runtime, site);
    if (tasks) read_tasks(*tasks, child(path, "tasks"), site);
    settle_pool(pool, path, site);
    if (hosts) {
        read_hosts(*hosts, child(path, "hosts"), site);
    } else if (!site.is_default) {
        report(table.source().begin, child(path, "hosts"), "is required unless default = true");
    }
    // Only possible when the config file's own directory could not be made absolute.
    if (!fs::path(site.cwd).is_absolute()) {
        report(cwd ? cwd->source().begin : table.source().begin, child(path, "cwd"),
               "must resolve to an absolute path");
    }
    config_.sites.push_back(std::move(site));
}

void Reader::read_hosts(const toml::node& node, const std::string& path, Site& site) {
    const auto* hosts = array_at(node, path);
    if (!hosts) {
        return;
    }
    if (hosts->empty() && !site.is_default) {
        report(node, path, "must list at least one host unless default = true");
    }
    for (std::size_t index = 0; index < hosts->size(); ++index) {
        const toml::node& entry = (*hosts)[index];
        const std::string entry_path = element(path, index);
        std::string text;
        if (!read_string(entry, entry_path, text)) {
            continue;
        }
        std::string problem;
        if (auto host = normalise_host_pattern(text, problem)) {
            claim_host(*host, {entry_path, entry.source().begin});
            site.hosts.push_back(std::move(*host));
        } else {
            report(entry, entry_path, problem);
        }
    }
}

void Reader::read_command(const toml::node& node, const std::string& path, Site& site) {
    if (auto command = read_program(node, path)) site.command = std::move(*command);
}

std::optional<std::vector<std::string>> Reader::read_program(const toml::node& node, const std::string& path) {
    const auto* parts = array_at(node, path);
    if (!parts) {
        return std::nullopt;
    }
    if (parts->empty()) {
        report(node, path, "must name a program to run");
        return std::nullopt;
    }
    std::vector<std::string> command;
    for (std::size_t index = 0; index < parts->size(); ++index) {
        const std::string part_path = element(path, index);
        std::string part;
        if (!read_string((*parts)[index], part_path, part)) {
            continue;
        }
        if (part.empty()) {
            report((*parts)[index], part_path, "must not be empty");
            continue;
        }
        command.push_back(std::move(part));
    }
    if (command.size() != parts->size()) {
        return std::nullopt;
    }
    // "./app" and "bin/app" mean next to the config file; a bare "python3" is for PATH lookup.
    const fs::path program(command.front());
    if (program.is_relative() && command.front().find('/') != std::string::npos) {
        command.front() = (config_dir_ / program).lexically_normal().string();
    }
    return command;
}

Runtime runtime_of(const std::vector<std::string>& command) {
    const std::string program = fs::path(command.front()).filename().string();
    return program == "node" || program == "nodejs" ? Runtime::node : Runtime::native;
}

void Reader::read_singleton(const toml::node& node, const std::string& path, Site& site) {
    const auto* table = table_at(node, path);
    if (!table) return;
    Singleton singleton;
    std::optional<Runtime> runtime;
    for (const auto& [key, value] : *table) {
        const std::string key_path = child(path, key.str());
        if (key.str() == "command") {
            if (auto command = read_program(value, key_path)) singleton.command = std::move(*command);
        } else if (key.str() == "runtime") {
            read_runtime(value, key_path, runtime);
        } else if (key.str() == "env") {
            read_env_table(value, key_path, singleton.env);
        } else if (key.str() == "start_timeout") {
            read_duration(value, key_path, Zero::rejected, singleton.start_timeout);
        } else if (key.str() == "restart_backoff") {
            read_restart_backoff(value, key_path, singleton.restart_backoff);
        } else {
            report_unknown(key, key_path);
        }
    }
    if (!table->contains("command")) {
        report_missing(*table, child(path, "command"));
    } else if (!singleton.command.empty()) {
        singleton.runtime = runtime.value_or(runtime_of(singleton.command));
    }
    site.singleton = std::move(singleton);
}

void Reader::read_watch(const toml::node& node, const std::string& path, Site& site) {
    const auto* directories = array_at(node, path);
    if (!directories) return;
    for (std::size_t index = 0; index < directories->size(); ++index) {
        std::string directory;
        if (read_directory((*directories)[index], element(path, index), directory)) site.watch.push_back(std::move(directory));
    }
}

void Reader::read_tasks(const toml::node& node, const std::string& path, Site& site) {
    const auto* tasks = array_at(node, path);
    if (!tasks) return;
    for (std::size_t index = 0; index < tasks->size(); ++index) {
        const std::string task_path = element(path, index);
        const auto* table = table_at((*tasks)[index], task_path);
        if (!table) continue;
        Task task;
        for (const auto& [key, value] : *table) {
            const std::string key_path = child(task_path, key.str());
            if (key.str() == "name") {
                read_nonempty_string(value, key_path, task.name);
            } else if (key.str() == "every") {
                read_duration(value, key_path, Zero::rejected, task.every);
            } else if (key.str() == "cron") {
                std::string text, problem;
                if (!read_string(value, key_path, text)) continue;
                task.cron = CronSchedule::parse(text, problem);
                if (!task.cron) report(value, key_path, problem);
            } else if (key.str() == "to") {
                std::string target;
                if (!read_string(value, key_path, target)) continue;
                if (target == "worker") {
                    task.to = Task::Target::worker;
                } else if (target == "singleton") {
                    task.to = Task::Target::singleton;
                } else {
                    report(value, key_path, "must be \"worker\" or \"singleton\"");
                }
            } else {
                report_unknown(key, key_path);
            }
        }
        if (!table->contains("name")) report_missing(*table, child(task_path, "name"));
        if (table->contains("every") == table->contains("cron")) {
            report(table->source().begin, task_path, "needs exactly one of every = \"DURATION\" and cron = \"EXPRESSION\"");
        }
        if (task.to == Task::Target::singleton && !site.singleton) {
            report(table->source().begin, child(task_path, "to"), "names the singleton, but the site has no [singleton]");
        }
        site.tasks.push_back(std::move(task));
    }
}

void Reader::read_env(const toml::node& node, const std::string& path, Site& site) { read_env_table(node, path, site.env); }

void Reader::read_env_table(const toml::node& node, const std::string& path, std::map<std::string, std::string>& env) {
    const auto* variables = table_at(node, path);
    if (!variables) {
        return;
    }
    for (const auto& [key, value] : *variables) {
        const std::string key_path = child(path, key.str());
        std::string text;
        if (!is_env_name(key.str())) {
            report(key.source().begin, key_path, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
        } else if (read_string(value, key_path, text)) {
            env.emplace(key.str(), std::move(text));
        }
    }
}

void Reader::read_restart_limit(const toml::node& node, const std::string& path, RestartLimit& limit) {
    const auto* table = table_at(node, path);
    if (!table) {
        return;
    }
    for (const auto& [key, value] : *table) {
        const std::string key_path = child(path, key.str());
        if (key.str() == "count") {
            read_integer(value, key_path, 1, 100'000, limit.count);
        } else if (key.str() == "window") {
            read_duration(value, key_path, Zero::rejected, limit.window);
        } else if (key.str() == "cooldown") {
            read_duration(value, key_path, Zero::rejected, limit.cooldown);
        } else {
            report_unknown(key, key_path);
        }
    }
}

void Reader::read_restart_backoff(const toml::node& node, const std::string& path, RestartBackoff& backoff) {
    const auto* table = table_at(node, path);
    if (!table) {
        return;
    }
    const toml::node* max_node = nullptr;
    for (const auto& [key, value] : *table) {
        const std::string key_path = child(path, key.str());
        if (key.str() == "initial") {
            read_duration(value, key_path, Zero::rejected, backoff.initial);
        } else if (key.str() == "max") {
            read_duration(value, key_path, Zero::rejected, backoff.max);
            max_node = &value;
        } else {
            report_unknown(key, key_path);
        }
    }
    if (max_node != nullptr && backoff.max < backoff.initial) {
        report(*max_node, child(path, "max"), "must not be less than initial");
    }
}

void Reader::read_resource_limits(const toml::node& node, const std::string& path, ResourceLimits& limits) {
    const auto* table = table_at(node, path);
    if (!table) {
        return;
    }
    for (const auto& [key, value] : *table) {
        const std::string key_path = child(path, key.str());
        if (key.str() == "open_files") {
            read_integer(value, key_path, 1, 1'048'576, limits.open_files);
        } else if (key.str() == "address_space") {
            // Below a mebibyte not even the dynamic loader fits: the worker could never start.
            read_size_at_least(value, key_path, 1024 * 1024, "1MiB", limits.address_space);
        } else {
            report_unknown(key, key_path);
        }
    }
}

// `tls = { cert = "…", key = "…" }`, or an array of such tables for several certificates
// (an RSA and an ECDSA one, say). Paths are relative to the config file.
void Reader::read_tls(const toml::node& node, const std::string& path, Site& site) {
    if (const auto* table = node.as_table()) {
        read_certificate(*table, path, site);
        return;
    }
    const auto* array = node.as_array();
    if (!array || array->empty()) {
        report(node, path, "must be a table { cert = \"…\", key = \"…\" } or a non-empty array of them");
        return;
    }
    for (std::size_t index = 0; index < array->size(); ++index) {
        const std::string entry_path = element(path, index);
        if (const auto* table = table_at((*array)[index], entry_path)) read_certificate(*table, entry_path, site);
    }
}

void Reader::read_certificate(const toml::table& table, const std::string& path, Site& site) {
    Certificate certificate;
    const toml::node* cert_node = nullptr;
    const toml::node* key_node = nullptr;
    for (const auto& [key, value] : table) {
        const std::string key_path = child(path, key.str());
        if (key.str() == "cert" && read_nonempty_string(value, key_path, certificate.cert)) {
            cert_node = &value;
        } else if (key.str() == "key" && read_nonempty_string(value, key_path, certificate.key)) {
            key_node = &value;
        } else if (key.str() != "cert" && key.str() != "key") {
            report_unknown(key, key_path);
        }
    }
    if (!table.contains("cert")) report_missing(table, child(path, "cert"));
    if (!table.contains("key")) report_missing(table, child(path, "key"));
    if (!cert_node || !key_node) return;
    certificate.cert = (config_dir_ / certificate.cert).lexically_normal().string();
    certificate.key = (config_dir_ / certificate.key).lexically_normal().string();
    const CertificateProblems problems = check_certificate(certificate.cert, certificate.key);
    if (!problems.cert.empty()) report(*cert_node, child(path, "cert"), problems.cert);
    if (!problems.key.empty()) report(*key_node, child(path, "key"), problems.key);
    site.certificates.push_back(std::move(certificate));
}

void Reader::read_tls_mode(const toml::node& node, const std::string& path, Site& site) {
    std::string mode;
    if (!read_string(node, path, mode)) return;
    if (mode == "terminate") {
        site.tls_mode = TlsMode::terminate;
    } else if (mode == "passthrough") {
        site.tls_mode = TlsMode::passthrough;
    } else {
        report(node, path, "must be \"terminate\" or \"passthrough\"");
    }
}

void Reader::read_runtime(const toml::node& node, const std::string& path, std::optional<Runtime>& runtime) {
    std::string name;
    if (!read_string(node, path, name)) return;
    if (name == "node") {
        runtime = Runtime::node;
    } else if (name == "native") {
        runtime = Runtime::native;
    } else {
        report(node, path, "must be \"node\" or \"native\"");
    }
}

void Reader::read_static_root(const toml::node& node, const std::string& path, Site& site) {
    std::string root;
    if (!read_directory(node, path, root)) return;
    std::error_code error;
    if (!fs::is_directory(root, error)) {
        report(node, path, "'" + root + "' is not a directory");
        return;
    }
    site.command = {"vhostd-static", "--root", root};
}

// Exactly one of command, static and upstream says what runs; the runtime follows from it
// unless given.
void Reader::settle_program(const toml::table& table, const std::string& path, std::optional<Runtime> runtime, Site& site) {
    const int programs = table.contains("command") + table.contains("static") + table.contains("upstream");
    if (programs == 0) {
        report(table.source().begin, child(path, "command"), "is required (or static = \"DIR\", or upstream = [COMMAND...])");
    } else if (programs > 1) {
        report(table.source().begin, path, "command, static and upstream are alternatives: give one of them");
    }
    if (runtime && !table.contains("command")) {
        report(*table.get("runtime"), child(path, "runtime"), "applies to command only: static and upstream run vhostd's own workers");
    } else if (runtime) {
        site.runtime = *runtime;
    } else if (!site.command.empty()) {
        site.runtime = runtime_of(site.command);
    }
    if (table.contains("static") && site.tls_mode == TlsMode::passthrough) {
        report(*table.get("tls_mode"), child(path, "tls_mode"), "must be \"terminate\" for a static site: vhostd-static does not terminate TLS");
    }
}

// A redirect to https needs somewhere to go.
void Reader::check_redirects_have_https() {
    const bool has_tls = std::any_of(config_.listeners.begin(), config_.listeners.end(), [](const Listener& l) { return l.tls; });
    if (has_tls) return;
    for (const Place& place : https_redirects_) {
        report(place.position, place.key_path, "needs a [[listen]] with tls = true to redirect to");
    }
}

void Reader::settle_pool(const PoolKeys& keys, const std::string& path, Site& site) {
    if (keys.workers) {
        // `workers` fixes the pool; min/max make it elastic. The key written last is the
        // one that broke the rule, so that is where the error points.
        const auto workers_at = keys.workers->source().begin;
        bool combined = false;
        for (const toml::key* other : {keys.min_workers, keys.max_workers}) {
            if (!other) {
                continue;
            }
            combined = true;
            if (workers_at < other->source().begin) {
                report(other->source().begin, child(path, other->str()), "cannot be combined with workers");
            } else {
                report(workers_at, child(path, "workers"), "cannot be combined with " + std::string(other->str()));
            }
        }
        if (!combined && keys.fixed) {
            site.min_workers = site.max_workers = *keys.fixed;
        }
        return;
    }
    if (keys.min && keys.max) {
        if (*keys.min > *keys.max) {
            report(*keys.min_value, child(path, "min_workers"),
                   "must not be greater than max_workers (" + std::to_string(*keys.max) + ")");
            return;
        }
        site.min_workers = *keys.min;
        site.max_workers = *keys.max;
    } else if (keys.min && !keys.max_workers) {
        site.min_workers = *keys.min;
        site.max_workers = std::max(*keys.min, 1u);
    } else if (keys.max && !keys.min_workers) {
        site.min_workers = 0;
        site.max_workers = *keys.max;
    }
}

void Reader::claim_host(const std::string& host, Place place) {
    const auto [owner, claimed] = host_owners_.try_emplace(host, place);
    if (!claimed) {
        report(place.position, place.key_path, "host \"" + host + "\" is already listed at " + describe(owner->second));
    }
}

void Reader::claim_default(Place place) {
    if (default_site_) {
        report(place.position, place.key_path, "only one site may be the default; " + describe(*default_site_) +
                                                   " already is");
    } else {
        default_site_ = std::move(place);
    }
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
    // If the working directory is gone the path stays relative; read_site reports that.
    fs::path absolute_file = fs::absolute(path, ignored);
    if (absolute_file.empty()) {
        absolute_file = path;
    }
    Reader reader(path, absolute_file.lexically_normal());
    Config config = reader.read(root);
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
