// [server]: the front's own settings.
#include "conf/key_table.hpp"
#include "conf/sections.hpp"

#include <filesystem>

namespace vhostd::conf {

namespace {

constexpr std::int64_t max_connection_cap = 10'000'000;

KeyTable<ServerSettings> server_keys() {
    KeyTable<ServerSettings> table;
    table.integer("threads", &ServerSettings::threads, 1, 64, "front threads, each with its own event loop")
        .duration("head_timeout", &ServerSettings::head_timeout, Zero::rejected,
                  "the whole head of the first request must arrive within this after accept, else 408")
        .custom("max_head_size", "size 1KiB–1MiB", toml_string(format_size(table.defaults().max_head_size)), true,
                "the largest head, final empty line included, else 431",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   ServerSettings& into) {
                    reader.read_size_between(value, path, 1024, 1024 * 1024, "1KiB", "1MiB", into.max_head_size);
                })
        .integer("max_header_fields", &ServerSettings::max_header_fields, 1, 1000,
                 "the most header fields in a head, else 431")
        .integer("max_waiting_heads", &ServerSettings::max_waiting_heads, 1, max_connection_cap,
                 "connections that may wait for their head at once, from all clients")
        .integer("max_waiting_heads_per_ip", &ServerSettings::max_waiting_heads_per_ip, 1, max_connection_cap,
                 "the same, per client address")
        .integer("max_connections_per_ip", &ServerSettings::max_connections_per_ip, 1, max_connection_cap,
                 "connections of one client address the front holds at once")
        .integer("max_tls_handshakes", &ServerSettings::max_tls_handshakes, 1, max_connection_cap,
                 "TLS handshakes in progress at once; past it the oldest is dropped")
        .nonempty_string("user", &ServerSettings::user, "started as root, vhostd runs as this user once its sockets are open")
        .nonempty_string("group", &ServerSettings::group, "the group for user")
        .default_is("the user's primary group", false)
        .integer("backlog", &ServerSettings::backlog, 1, 65535, "the listen(2) backlog of each listener")
        .custom("log_dir", "non-empty string", "none", false,
                "directory for per-site files of the workers' output, relative to the config file",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   ServerSettings& into) {
                    if (reader.read_path(value, path, into.log_dir) && !std::filesystem::path(into.log_dir).is_absolute()) {
                        reader.report(value, path, "must resolve to an absolute path");
                    }
                })
        .size_at_least("log_max_size", &ServerSettings::log_max_size, 64 * 1024, "64KiB",
                       "a site's log file that reaches this size is rotated")
        .integer("log_files", &ServerSettings::log_files, 1, 100, "how many files rotation keeps per site")
        .path("access_log", &ServerSettings::access_log, "the access log file, relative to the config file")
        .custom("access_log_format", "\"plain\" or \"json\"",
                toml_string(table.defaults().access_log_json ? "json" : "plain"), true,
                "one line of text or one JSON object per access log entry",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   ServerSettings& into) {
                    std::string format;
                    if (!reader.read_nonempty_string(value, path, format)) return;
                    if (format == "json" || format == "plain") {
                        into.access_log_json = format == "json";
                    } else {
                        reader.report(value, path, "must be \"plain\" or \"json\"");
                    }
                });
    return table;
}

}  // namespace

void read_server(ValueReader& reader, const toml::node& node, ServerSettings& into) {
    if (const auto* table = reader.table_at(node, "server")) {
        built_once<server_keys>().read(reader, *table, "server", into);
    }
}

SectionDoc server_section() {
    return {"server", built_once<server_keys>().docs()};
}

}  // namespace vhostd::conf
