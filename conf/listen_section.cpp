// [[listen]]: one table per listening socket.
#include "conf/key_table.hpp"
#include "conf/sections.hpp"

namespace vhostd::conf {

namespace {

KeyTable<Listener> listener_keys() {
    KeyTable<Listener> table;
    table
        .endpoint("address", &Listener::address, &Listener::endpoint,
                  "\"IP:port\" to listen on; an IP address, not a name")
        .required()
        .boolean("proxy_protocol", &Listener::proxy_protocol,
                 "connections start with a PROXY protocol header (v1 or v2) from a load balancer")
        .custom("proxy_from", "array of strings", "required with proxy_protocol", false,
                "the load balancers' addresses or ranges: only they may connect",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   Listener& into) { reader.read_address_ranges(value, path, into.proxy_from); })
        .boolean("tls", &Listener::tls, "an HTTPS listener: the certificate is the one of the site SNI names")
        .checked_by([](ValueReader& reader, const toml::table& table, const std::string& path, Listener& into) {
            // Accepting a PROXY header from anyone would let any client claim any address.
            if (into.proxy_protocol && !table.contains("proxy_from")) {
                reader.report(table.source().begin, child(path, "proxy_from"),
                              "is required with proxy_protocol = true: the load balancers' addresses");
            } else if (!into.proxy_protocol && table.contains("proxy_from")) {
                reader.report(*table.get("proxy_from"), child(path, "proxy_from"), "needs proxy_protocol = true");
            }
        });
    return table;
}

void read_listener(ValueReader& reader, const toml::table& table, const std::string& path,
                   std::vector<Listener>& into) {
    Listener listener;
    built_once<listener_keys>().read(reader, table, path, listener);
    into.push_back(std::move(listener));
}

}  // namespace

void read_listeners(ValueReader& reader, const toml::node& node, std::vector<Listener>& into) {
    const auto* listeners = node.as_array();
    if (!listeners) {
        reader.report(node, "listen", "must be an array of tables, written [[listen]]");
        return;
    }
    if (listeners->empty()) {
        reader.report(node, "listen", "at least one [[listen]] is required");
    }
    for (std::size_t index = 0; index < listeners->size(); ++index) {
        const std::string path = element("listen", index);
        if (const auto* table = reader.table_at((*listeners)[index], path)) {
            read_listener(reader, *table, path, into);
        }
    }
}

SectionDoc listen_section() {
    return {"listen", built_once<listener_keys>().docs()};
}

}  // namespace vhostd::conf
