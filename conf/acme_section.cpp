// [acme]: the ACME server that signs the certificates of `tls = "auto"` sites, the account's
// contact and the state directory; and the rules between those sites and the listeners.
#include "conf/key_table.hpp"
#include "conf/sections.hpp"

#include "http/host.hpp"

#include <algorithm>

namespace vhostd::conf {

namespace {

const std::vector<std::pair<std::string, AcmeChallenge>> challenge_words = {
    {"http-01", AcmeChallenge::http01}, {"tls-alpn-01", AcmeChallenge::tls_alpn01}};

void read_challenges(ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                     AcmeSettings& into) {
    const auto* list = reader.array_at(value, path);
    if (!list) return;
    if (list->empty()) {
        reader.report(value, path, "must name at least one of \"http-01\", \"tls-alpn-01\"");
        return;
    }
    std::vector<AcmeChallenge> chosen;
    for (std::size_t index = 0; index < list->size(); ++index) {
        const std::string entry_path = element(path, index);
        std::string word;
        if (!reader.read_string((*list)[index], entry_path, word)) continue;
        const auto known = std::find_if(challenge_words.begin(), challenge_words.end(), [&](const auto& w) { return w.first == word; });
        if (known == challenge_words.end()) {
            reader.report((*list)[index], entry_path, "must be \"http-01\" or \"tls-alpn-01\" (DNS-01 is not supported)");
        } else if (std::find(chosen.begin(), chosen.end(), known->second) != chosen.end()) {
            reader.report((*list)[index], entry_path, "\"" + word + "\" is listed twice");
        } else {
            chosen.push_back(known->second);
        }
    }
    if (chosen.size() == list->size()) into.challenges = std::move(chosen);
}

// https://host[/path]: the directory is the one URL the client is given rather than told.
void read_directory(ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                    AcmeSettings& into) {
    std::string url;
    if (!reader.read_string(value, path, url)) return;
    const std::string_view rest = std::string_view(url).substr(std::min<std::size_t>(url.size(), 8));
    if (!url.starts_with("https://") || rest.empty() || rest.front() == '/' ||
        std::any_of(url.begin(), url.end(), [](char c) { return c <= ' ' || c == 0x7f; })) {
        reader.report(value, path, "must be an https:// URL, like \"https://acme-v02.api.letsencrypt.org/directory\"");
        return;
    }
    into.directory = std::move(url);
}

void read_email(ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                AcmeSettings& into) {
    std::string email;
    if (!reader.read_string(value, path, email)) return;
    const auto at = email.find('@');
    const bool plain = std::none_of(email.begin(), email.end(), [](char c) { return c <= ' ' || c == 0x7f || c == ',' || c == ':'; });
    if (at == std::string::npos || at == 0 || at + 1 == email.size() || email.find('@', at + 1) != std::string::npos || !plain) {
        reader.report(value, path, "must be one e-mail address, like \"ops@example.com\"");
        return;
    }
    into.email = std::move(email);
}

KeyTable<AcmeSettings> acme_keys() {
    KeyTable<AcmeSettings> table;
    const AcmeSettings& defaults = table.defaults();
    table
        .custom("directory", "string (an https URL)", toml_string(defaults.directory), true,
                "the ACME server's directory URL", read_directory)
        .custom("email", "string", "none", false, "the account's contact address (expiry notices)", read_email)
        .path("state_dir", &AcmeSettings::state_dir, "where the account key and the certificates are kept (mode 0600)")
        .default_is(toml_string(defaults.state_dir), true)
        .path("ca_bundle", &AcmeSettings::ca_bundle, "the roots that the ACME server's own HTTPS is checked against")
        .default_is("the system's roots", false)
        .custom("challenges", "array of \"http-01\", \"tls-alpn-01\"", "[\"http-01\", \"tls-alpn-01\"]", true,
                "the challenge types to answer, in preference order", read_challenges)
        .integer("renew_percent_left", &AcmeSettings::renew_percent_left, 1, 90,
                 "renew a certificate when this percentage of its lifetime is left")
        .duration("retry_initial", &AcmeSettings::retry_initial, Zero::rejected,
                  "the wait after a failed attempt; it doubles with each failure in a row")
        .duration("retry_max", &AcmeSettings::retry_max, Zero::rejected, "the longest wait between attempts")
        .duration("order_timeout", &AcmeSettings::order_timeout, Zero::rejected,
                  "one attempt, from the order to the chain, gives up after this")
        .integer("on_demand_per_minute", &AcmeSettings::on_demand_per_minute, 1, 10'000,
                 "on-demand orders per minute, all sites together; more handshakes fail without asking the CA")
        .duration("on_demand_wait", &AcmeSettings::on_demand_wait, Zero::rejected,
                  "how long a handshake waits for its on-demand certificate");
    return table;
}

bool is_wildcard(const std::string& host) { return host.starts_with("*."); }

}  // namespace

void read_acme(ValueReader& reader, const toml::node& node, AcmeSettings& into) {
    if (const auto* table = reader.table_at(node, "acme")) built_once<acme_keys>().read(reader, *table, "acme", into);
}

void check_auto_tls(ValueReader& reader, const toml::table& root, const Config& config) {
    const bool plain_listener = std::any_of(config.listeners.begin(), config.listeners.end(), [](const Listener& l) { return !l.tls; });
    const bool tls_listener = std::any_of(config.listeners.begin(), config.listeners.end(), [](const Listener& l) { return l.tls; });
    bool any_auto = false;
    for (const Site& site : config.sites) {
        if (site.on_demand && !site.acme) {
            const std::string path = child(child("sites", site.name), "on_demand");
            const toml::node* written = root.at_path(path).node();
            reader.report(written != nullptr ? written->source().begin : root.source().begin, path, "needs tls = \"auto\"");
        }
        if (!site.acme) continue;
        any_auto = true;
        const std::string path = child(child("sites", site.name), "tls");
        const toml::node* written = root.at_path(path).node();
        const toml::source_position where = written != nullptr ? written->source().begin : root.source().begin;
        if (!tls_listener) reader.report(where, path, "\"auto\" needs a [[listen]] with tls = true");
        if (site.on_demand && site.tls_mode == TlsMode::passthrough) {
            reader.report(where, path, "on_demand needs tls_mode = \"terminate\": a passthrough site's workers load one certificate");
        }
        const auto wildcard = std::find_if(site.hosts.begin(), site.hosts.end(), is_wildcard);
        if (site.on_demand) {
            // Its wildcards and the default site's any-name are matched at handshakes, not ordered.
        } else if (wildcard != site.hosts.end()) {
            reader.report(where, path,
                          "\"auto\" gets certificates for exact host names, and \"" + *wildcard +
                              "\" is a wildcard (that needs DNS-01, which vhostd does not do): list the names, or give "
                              "the wildcard's site a certificate with tls = { cert, key }, or add on_demand");
        } else if (const auto address = std::find_if(site.hosts.begin(), site.hosts.end(), http::is_address);
                   address != site.hosts.end()) {
            reader.report(where, path, "\"auto\" gets certificates for host names, and \"" + *address +
                                           "\" is an address: give that site a certificate with tls = { cert, key }");
        } else if (site.hosts.empty()) {
            reader.report(where, path, "\"auto\" needs at least one host name to get a certificate for (or on_demand)");
        }
    }
    if (!any_auto) return;
    const auto& wanted = config.acme.challenges;
    const bool http01 = plain_listener && std::find(wanted.begin(), wanted.end(), AcmeChallenge::http01) != wanted.end();
    const bool tls_alpn01 = tls_listener && std::find(wanted.begin(), wanted.end(), AcmeChallenge::tls_alpn01) != wanted.end();
    if (!http01 && !tls_alpn01) {
        const toml::node* written = root.at_path("acme.challenges").node();
        reader.report(written != nullptr ? written->source().begin : root.source().begin, "acme.challenges",
                      "none can be answered: http-01 needs a [[listen]] without tls, tls-alpn-01 one with tls = true");
    }
}

SectionDoc acme_section() {
    return {"acme", built_once<acme_keys>().docs()};
}

}  // namespace vhostd::conf
