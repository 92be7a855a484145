// [sites.NAME]: one table per site. Keys that depend on each other (the program, the pool
// size, hosts and default, tasks and the singleton) are noted while the table is read and
// settled after it, because toml++ hands keys over sorted, not in file order.
#include "conf/sections.hpp"
#include "conf/site_tables.hpp"

#include <algorithm>
#include <filesystem>
#include <map>

namespace vhostd::conf {

namespace fs = std::filesystem;

namespace {

bool is_site_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

// The pool-size keys of one site as written: they are checked against each other once all
// are read.
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

// A site while its table is read: what must wait for the other keys.
struct SiteDraft : Site {
    const toml::node* hosts_value = nullptr;  // read once `default` is known
    const toml::node* tasks_value = nullptr;  // read once the singleton is known
    const toml::node* cwd_value = nullptr;
    std::optional<Runtime> runtime_written;
    PoolKeys pool;
    std::optional<Place> default_place;
    std::optional<Place> https_redirect_place;
};

// A pool-size key: where it was written, and its value when valid.
KeyReader<SiteDraft> pool_key(const toml::key* PoolKeys::*key, std::optional<unsigned> PoolKeys::*count,
                              std::int64_t min) {
    return [key, count, min](ValueReader& reader, const toml::key& written, const toml::node& value,
                             const std::string& path, SiteDraft& into) {
        into.pool.*key = &written;
        if (key == &PoolKeys::min_workers) into.pool.min_value = &value;
        if (unsigned number = 0; reader.read_integer(value, path, min, max_pool_size, number)) into.pool.*count = number;
    };
}

// Where a key was written, when its boolean value is true.
KeyReader<SiteDraft> flag_key(bool Site::*field, std::optional<Place> SiteDraft::*place) {
    return [field, place](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                          SiteDraft& into) {
        if (reader.read_bool(value, path, into.*field) && into.*field) into.*place = Place{path, value.source().begin};
    };
}

// Notes a key's value to be read once the whole table is.
KeyReader<SiteDraft> later(const toml::node* SiteDraft::*slot) {
    return [slot](ValueReader&, const toml::key&, const toml::node& value, const std::string&, SiteDraft& into) {
        into.*slot = &value;
    };
}

KeyReader<SiteDraft> program_key(std::vector<std::string> prefix) {
    return [prefix](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                    SiteDraft& into) {
        if (reader.read_program(value, path, into.command)) into.command.insert(into.command.begin(), prefix.begin(), prefix.end());
    };
}

void read_static_root(ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                      SiteDraft& into) {
    std::string root;
    if (!reader.read_path(value, path, root)) return;
    std::error_code error;
    if (!fs::is_directory(root, error)) {
        reader.report(value, path, "'" + root + "' is not a directory");
        return;
    }
    into.command = {"vhostd-static", "--root", root};
}

// `tls`: "auto" (or { acme = true }) for certificates vhostd obtains, else the site's files.
void read_tls(ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path, SiteDraft& into) {
    if (const auto* word = value.as_string()) {
        if (word->get() == "auto") {
            into.acme = true;
        } else {
            reader.report(value, path, "must be \"auto\", a table { cert = \"…\", key = \"…\" } or an array of them");
        }
        return;
    }
    if (const auto* table = value.as_table(); table && table->contains("acme")) {
        if (table->size() != 1) {
            reader.report(value, path, "{ acme = true } takes no other keys: certificates come from [acme] or from cert and key");
        } else {
            reader.read_bool(*table->get("acme"), child(path, "acme"), into.acme);
        }
        return;
    }
    read_certificates(reader, value, path, into.certificates);
}

KeyTable<SiteDraft> site_keys() {
    KeyTable<SiteDraft> table;
    const Site& defaults = table.defaults();
    const std::string strings = "array of strings";
    table
        .custom("hosts", strings, "required unless default = true", false, "the host names this site serves",
                later(&SiteDraft::hosts_value))
        .custom("command", strings, "required, unless static or upstream is given", false,
                "the program and its arguments, run directly (no shell)", program_key({}))
        .custom("static", "string (a directory)", "none", false, "instead of command: serve this directory",
                read_static_root)
        .custom("upstream", strings, "none", false, "instead of command: an app that listens on $PORT",
                program_key({"vhostd-upstream", "--"}))
        .custom("singleton", "table", "none", false, "one process beside the workers, for work done once",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   SiteDraft& into) { read_singleton(reader, value, path, into.singleton); },
                singleton_key_docs())
        .custom("tasks", "array of tables", "none", false, "messages sent on a schedule", later(&SiteDraft::tasks_value),
                task_key_docs())
        .custom("watch", "array of directories", "none", false, "changes under these roll the workers",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   SiteDraft& into) {
                    const auto* directories = reader.array_at(value, path);
                    for (std::size_t index = 0; directories && index < directories->size(); ++index) {
                        std::string directory;
                        if (reader.read_path((*directories)[index], element(path, index), directory)) {
                            into.watch.push_back(std::move(directory));
                        }
                    }
                })
        .duration("watch_debounce", &Site::watch_debounce, Zero::allowed, "how long changes must stop before the roll")
        .choice("runtime", &SiteDraft::runtime_written, runtime_words, "what the program speaks on the channel")
        .default_is(runtime_default, false)
        .custom("cwd", "non-empty string", "the config file's directory", false, "the workers' working directory",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   SiteDraft& into) {
                    into.cwd_value = &value;
                    reader.read_path(value, path, into.cwd);
                })
        .env("env", &Site::env, "variables added to the workers' environment")
        .custom("workers", "integer 1–256", std::to_string(defaults.min_workers), defaults.min_workers == defaults.max_workers,
                "a fixed pool: min_workers = max_workers = N", pool_key(&PoolKeys::workers, &PoolKeys::fixed, 1))
        .custom("min_workers", "integer 0–256", std::to_string(defaults.min_workers), true,
                "workers kept running even when idle", pool_key(&PoolKeys::min_workers, &PoolKeys::min, 0))
        .custom("max_workers", "integer 1–256", std::to_string(defaults.max_workers), true,
                "the most workers the pool grows to", pool_key(&PoolKeys::max_workers, &PoolKeys::max, 1))
        .duration("idle_timeout", &Site::idle_timeout, Zero::rejected,
                  "a worker above min_workers idle this long is drained")
        .nonempty_string("user", &Site::user, "the user the workers run as")
        .default_is("vhostd's own", false)
        .nonempty_string("group", &Site::group, "the group the workers run as")
        .default_is("vhostd's own", false)
        .table("limits", &Site::limits, resource_limit_keys(), "resource limits of the workers")
        .custom("default", "boolean", defaults.is_default ? "true" : "false", true,
                "this site gets requests whose host matches no site",
                flag_key(&Site::is_default, &SiteDraft::default_place))
        .integer("max_in_flight", &Site::max_in_flight, 1, 1024, "connections handed to a worker, not yet acknowledged")
        .integer("queue_size", &Site::queue_size, 0, 1'000'000, "connections that may wait for a worker")
        .duration("queue_timeout", &Site::queue_timeout, Zero::allowed, "the longest a connection waits in the queue")
        .duration("drain_timeout", &Site::drain_timeout, Zero::allowed, "how long a draining worker may take to exit")
        .duration("kill_timeout", &Site::kill_timeout, Zero::rejected, "from SIGTERM to SIGKILL")
        .duration("start_timeout", &Site::start_timeout, Zero::rejected, "no ready message within this is a failed start")
        .duration("heartbeat_timeout", &Site::heartbeat_timeout, Zero::rejected,
                  "a ready worker not heard from this long is replaced")
        .duration("max_age", &Site::max_age, Zero::allowed, "replace a worker this old; \"0s\": never")
        .size("max_memory", &Site::max_memory, "replace a worker whose RSS passes this; \"0B\": no limit")
        .integer("max_requests", &Site::max_requests, 0, std::int64_t{1} << 62,
                 "rotate a worker after this many requests; 0: no limit")
        .integer("max_surge", &Site::max_surge, 1, 256, "workers replaced at a time")
        .custom("cron_restart", cron_type, "none", false, "roll the workers at these cron times",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   SiteDraft& into) { read_cron(reader, value, path, into.cron_restart); })
        .custom("affinity", "\"none\", \"client\" or table { cookie = \"NAME\" }", "\"none\"", true,
                "which worker slot a client's connections go to",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   SiteDraft& into) { read_affinity(reader, value, path, into.affinity); },
                affinity_key_docs())
        .table("restart_limit", &Site::restart_limit, restart_limit_keys(defaults.restart_limit),
               "too many failures within a window quarantine the site")
        .table("restart_backoff", &Site::restart_backoff, restart_backoff_keys(defaults.restart_backoff),
               "the delay before the next worker start after a failure")
        .custom("tls", "\"auto\", or table { cert, key }, or an array of them", "none", false,
                "certificates from [acme] for every host (\"auto\", or { acme = true }), or the site's own chain and key",
                read_tls, certificate_key_docs())
        .custom("on_demand", "table { ask } or { allow_file }", "none", false,
                "with tls = \"auto\": names the site matches but does not list get a certificate at their first handshake",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   SiteDraft& into) { read_on_demand(reader, value, path, into.on_demand); },
                on_demand_key_docs())
        .choice("tls_mode", &Site::tls_mode, {{"terminate", TlsMode::terminate}, {"passthrough", TlsMode::passthrough}},
                "vhostd terminates TLS, or the worker gets the raw connection")
        .custom("https_redirect", "boolean", defaults.https_redirect ? "true" : "false", true,
                "plain-HTTP requests get 308 to the https URL",
                flag_key(&Site::https_redirect, &SiteDraft::https_redirect_place));
    return table;
}

// What one site's keys may conflict with in another's.
struct SiteClaims {
    std::map<std::string, Place> host_owners;
    std::optional<Place> default_site;
};

void claim_host(ValueReader& reader, SiteClaims& claims, const std::string& host, Place place) {
    const auto [owner, claimed] = claims.host_owners.try_emplace(host, place);
    if (!claimed) {
        reader.report(place.position, place.key_path,
                      "host \"" + host + "\" is already listed at " + describe(owner->second));
    }
}

void claim_default(ValueReader& reader, SiteClaims& claims, Place place) {
    if (claims.default_site) {
        reader.report(place.position, place.key_path,
                      "only one site may be the default; " + describe(*claims.default_site) + " already is");
    } else {
        claims.default_site = std::move(place);
    }
}

void read_hosts(ValueReader& reader, SiteClaims& claims, const toml::node& node, const std::string& path,
                Site& site) {
    const auto* hosts = reader.array_at(node, path);
    if (!hosts) {
        return;
    }
    if (hosts->empty() && !site.is_default) {
        reader.report(node, path, "must list at least one host unless default = true");
    }
    for (std::size_t index = 0; index < hosts->size(); ++index) {
        const std::string entry_path = element(path, index);
        if (auto host = reader.read_host_pattern((*hosts)[index], entry_path)) {
            claim_host(reader, claims, *host, {entry_path, (*hosts)[index].source().begin});
            site.hosts.push_back(std::move(*host));
        }
    }
}

// Exactly one of command, static and upstream says what runs; the runtime follows from it
// unless given.
void settle_program(ValueReader& reader, const toml::table& table, const std::string& path, SiteDraft& site) {
    const int programs = table.contains("command") + table.contains("static") + table.contains("upstream");
    if (programs == 0) {
        reader.report(table.source().begin, child(path, "command"),
                      "is required (or static = \"DIR\", or upstream = [COMMAND...])");
    } else if (programs > 1) {
        reader.report(table.source().begin, path, "command, static and upstream are alternatives: give one of them");
    }
    if (site.runtime_written && !table.contains("command")) {
        reader.report(*table.get("runtime"), child(path, "runtime"),
                      "applies to command only: static and upstream run vhostd's own workers");
    } else if (site.runtime_written) {
        site.runtime = *site.runtime_written;
    } else if (!site.command.empty()) {
        site.runtime = runtime_of(site.command);
    }
    if (table.contains("static") && site.tls_mode == TlsMode::passthrough) {
        reader.report(*table.get("tls_mode"), child(path, "tls_mode"),
                      "must be \"terminate\" for a static site: vhostd-static does not terminate TLS");
    }
}

void settle_pool(ValueReader& reader, const std::string& path, SiteDraft& site) {
    const PoolKeys& keys = site.pool;
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
                reader.report(other->source().begin, child(path, other->str()), "cannot be combined with workers");
            } else {
                reader.report(workers_at, child(path, "workers"), "cannot be combined with " + std::string(other->str()));
            }
        }
        if (!combined && keys.fixed) {
            site.min_workers = site.max_workers = *keys.fixed;
        }
        return;
    }
    if (keys.min && keys.max) {
        if (*keys.min > *keys.max) {
            reader.report(*keys.min_value, child(path, "min_workers"),
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

void read_site(ValueReader& reader, SiteClaims& claims, std::string_view name, const toml::table& table,
               const std::string& path, std::vector<Site>& into, std::vector<Place>& https_redirects) {
    SiteDraft site;
    site.name = name;
    site.cwd = reader.config_dir().string();
    built_once<site_keys>().read(reader, table, path, site);
    if (site.default_place) claim_default(reader, claims, *site.default_place);
    if (site.https_redirect_place) https_redirects.push_back(*site.https_redirect_place);
    // Certificates vhostd obtains are there to be used: plain HTTP goes to https unless the
    // site says otherwise (check_auto_tls reports a missing tls listener).
    if (site.acme && !table.contains("https_redirect")) site.https_redirect = true;
    settle_program(reader, table, path, site);
    if (site.tasks_value) {
        read_tasks(reader, *site.tasks_value, child(path, "tasks"), site.singleton.has_value(), site.tasks);
    }
    settle_pool(reader, path, site);
    if (site.hosts_value) {
        read_hosts(reader, claims, *site.hosts_value, child(path, "hosts"), site);
    } else if (!site.is_default) {
        reader.report(table.source().begin, child(path, "hosts"), "is required unless default = true");
    }
    // Only possible when the config file's own directory could not be made absolute.
    if (!fs::path(site.cwd).is_absolute()) {
        reader.report(site.cwd_value ? site.cwd_value->source().begin : table.source().begin, child(path, "cwd"),
                      "must resolve to an absolute path");
    }
    into.push_back(static_cast<Site&&>(site));
}

}  // namespace

void read_sites(ValueReader& reader, const toml::node& node, std::vector<Site>& into,
                std::vector<Place>& https_redirects) {
    const auto* sites = reader.table_at(node, "sites");
    if (!sites) {
        return;
    }
    if (sites->empty()) {
        reader.report(*sites, "sites", "at least one [sites.NAME] is required");
    }
    struct Entry {
        std::string_view name;
        const toml::table* table;
    };
    std::vector<Entry> entries;
    for (const auto& [key, value] : *sites) {
        const std::string path = child("sites", key.str());
        if (!is_site_name(key.str())) {
            reader.report(key.source().begin, path, "site name must use only letters, digits, '-' and '_'");
        } else if (const auto* table = reader.table_at(value, path)) {
            entries.push_back({key.str(), table});
        }
    }
    // toml++ keeps keys sorted; the user expects sites (and "already listed at" hints) in
    // the order they were written.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.table->source().begin < b.table->source().begin;
    });
    SiteClaims claims;
    for (const Entry& entry : entries) {
        read_site(reader, claims, entry.name, *entry.table, child("sites", entry.name), into, https_redirects);
    }
}

SectionDoc sites_section() {
    return {"sites.NAME", built_once<site_keys>().docs()};
}

}  // namespace vhostd::conf
