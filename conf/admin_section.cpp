// [admin]: the endpoint vhostctl, /status, /metrics and the dashboard use.
#include "conf/key_table.hpp"
#include "conf/sections.hpp"

#include "http/host.hpp"

namespace vhostd::conf {

namespace {

// Exact host names (no patterns): the Host values a browser may send to the endpoint.
void read_admin_hosts(ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                      AdminSettings& admin) {
    const auto* hosts = reader.array_at(value, path);
    if (!hosts) return;
    for (std::size_t index = 0; index < hosts->size(); ++index) {
        const std::string entry_path = element(path, index);
        std::string text;
        if (!reader.read_string((*hosts)[index], entry_path, text)) continue;
        if (auto host = http::normalize_host(text)) {
            admin.hosts.push_back(std::move(*host));
        } else {
            reader.report((*hosts)[index], entry_path, "must be a host name, like \"admin.example\" (no wildcard)");
        }
    }
}

KeyTable<AdminSettings> admin_keys() {
    KeyTable<AdminSettings> table;
    table
        .endpoint("listen", &AdminSettings::address, &AdminSettings::endpoint, "\"IP:port\" for the admin endpoint")
        .required()
        .path("token_file", &AdminSettings::token_file,
              "a file holding the token every request but the dashboard page must carry")
        .custom("hosts", "array of strings", "none", false,
                "more names the endpoint answers to, besides its address and localhost", read_admin_hosts);
    return table;
}

}  // namespace

void read_admin(ValueReader& reader, const toml::node& node, std::optional<AdminSettings>& into) {
    if (const auto* table = reader.table_at(node, "admin")) {
        AdminSettings admin;
        built_once<admin_keys>().read(reader, *table, "admin", admin);
        into = std::move(admin);
    }
}

void check_admin_is_not_public(ValueReader& reader, const toml::table& root, const Config& config) {
    if (!config.admin || config.admin->endpoint.port == 0) return;
    const Endpoint& admin = config.admin->endpoint;
    auto wildcard = [](const std::string& host) { return host == "0.0.0.0" || host == "::"; };
    for (const Listener& listener : config.listeners) {
        const Endpoint& public_endpoint = listener.endpoint;
        const bool overlaps = public_endpoint.host == admin.host || wildcard(public_endpoint.host) || wildcard(admin.host);
        if (public_endpoint.port == admin.port && overlaps) {
            const toml::node* listen = root.at_path("admin.listen").node();
            reader.report(listen != nullptr ? listen->source().begin : root.source().begin, "admin.listen",
                          "must not be the address of a public listener (" + listener.address + ")");
            return;
        }
    }
}

SectionDoc admin_section() {
    return {"admin", built_once<admin_keys>().docs()};
}

}  // namespace vhostd::conf
