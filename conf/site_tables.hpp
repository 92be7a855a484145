// The tables inside a [sites.NAME]: restart_limit, restart_backoff, limits, singleton, tasks,
// tls and affinity, each with its key table, plus the runtime rule both a site and its singleton use.
#pragma once

#include "conf/key_table.hpp"

#include <optional>
#include <string>
#include <vector>

namespace vhostd::conf {

// `runtime = "node" | "native"`, kept unset when not written: it then follows the program.
inline const std::vector<std::pair<std::string, std::optional<Runtime>>> runtime_words = {
    {"node", Runtime::node}, {"native", Runtime::native}};
inline constexpr const char* runtime_default = "\"node\" when command[0] is node or nodejs, else \"native\"";
Runtime runtime_of(const std::vector<std::string>& command);

// `defaults` is what the enclosing struct starts with (a site's and a singleton's differ).
KeyTable<RestartLimit> restart_limit_keys(const RestartLimit& defaults);
KeyTable<RestartBackoff> restart_backoff_keys(const RestartBackoff& defaults);
KeyTable<ResourceLimits> resource_limit_keys();

void read_singleton(ValueReader& reader, const toml::node& node, const std::string& path,
                    std::optional<Singleton>& into);
std::vector<KeyDoc> singleton_key_docs();

// Tasks may name the singleton only when the site has one.
void read_tasks(ValueReader& reader, const toml::node& node, const std::string& path, bool has_singleton,
                std::vector<Task>& into);
std::vector<KeyDoc> task_key_docs();

// `tls = { cert, key }` or an array of such tables; paths resolve against the config file
// and the files are checked.
void read_certificates(ValueReader& reader, const toml::node& node, const std::string& path,
                       std::vector<Certificate>& into);
std::vector<KeyDoc> certificate_key_docs();

// A cron expression (a task's `cron`, a site's `cron_restart`), reported where it is wrong.
void read_cron(ValueReader& reader, const toml::node& node, const std::string& path, std::optional<CronSchedule>& into);
inline constexpr const char* cron_type = "string \"m h dom mon dow\"";

// `affinity = "none" | "client" | { cookie = "NAME" }`.
void read_affinity(ValueReader& reader, const toml::node& node, const std::string& path, Affinity& into);
std::vector<KeyDoc> affinity_key_docs();

// on_demand = { ask = "http://…" } or { allow_file = "FILE" }: names of an auto site's
// patterns (or of the default site) that may get a certificate at their first handshake.
void read_on_demand(ValueReader& reader, const toml::node& node, const std::string& path, std::optional<OnDemand>& into);
std::vector<KeyDoc> on_demand_key_docs();

}  // namespace vhostd::conf
