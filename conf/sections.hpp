// The sections of the config file, each read by its own file through its key table;
// conf/loader.cpp walks the document and calls them. Each also describes its keys for
// conf/keys.hpp.
#pragma once

#include "conf/config.hpp"
#include "conf/keys.hpp"
#include "conf/value_reader.hpp"

#include <optional>
#include <vector>

namespace vhostd::conf {

// [[listen]]: conf/listen_section.cpp
void read_listeners(ValueReader& reader, const toml::node& node, std::vector<Listener>& into);
SectionDoc listen_section();

// [server]: conf/server_section.cpp
void read_server(ValueReader& reader, const toml::node& node, ServerSettings& into);
SectionDoc server_section();

// [admin]: conf/admin_section.cpp
void read_admin(ValueReader& reader, const toml::node& node, std::optional<AdminSettings>& into);
// The admin endpoint steers vhostd: it must never share a port with a public listener.
void check_admin_is_not_public(ValueReader& reader, const toml::table& root, const Config& config);
SectionDoc admin_section();

// [acme]: conf/acme_section.cpp. check_auto_tls() holds `tls = "auto"` sites to what ACME
// can do (exact names, a tls listener, a challenge some listener can answer).
void read_acme(ValueReader& reader, const toml::node& node, AcmeSettings& into);
void check_auto_tls(ValueReader& reader, const toml::table& root, const Config& config);
SectionDoc acme_section();

// [sites.NAME]: conf/site_section.cpp. Sites with https_redirect = true are added to
// `https_redirects`, to be checked once every listener is known.
void read_sites(ValueReader& reader, const toml::node& node, std::vector<Site>& into,
                std::vector<Place>& https_redirects);
SectionDoc sites_section();

}  // namespace vhostd::conf
