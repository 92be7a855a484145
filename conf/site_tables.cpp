#include "conf/site_tables.hpp"

#include "conf/certificate_check.hpp"
#include "http/ascii.hpp"
#include "http/host.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace vhostd::conf {

namespace fs = std::filesystem;

namespace {

// The runtime as written, settled once the command is known.
struct SingletonDraft : Singleton {
    std::optional<Runtime> runtime_written;
};

KeyTable<SingletonDraft> singleton_keys() {
    KeyTable<SingletonDraft> table;
    table
        .custom("command", "array of strings", "", false, "the program and its arguments, resolved like a site's",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   SingletonDraft& into) { reader.read_program(value, path, into.command); })
        .required()
        .choice("runtime", &SingletonDraft::runtime_written, runtime_words, "as a site's runtime, from this command")
        .default_is(runtime_default, false)
        .env("env", &Singleton::env, "variables on top of the site's env")
        .duration("start_timeout", &Singleton::start_timeout, Zero::rejected,
                  "no ready message within this is a failed start")
        .table("restart_backoff", &Singleton::restart_backoff,
               restart_backoff_keys(table.defaults().restart_backoff), "the delay before a restart after a failure")
        .checked_by([](ValueReader&, const toml::table&, const std::string&, SingletonDraft& into) {
            if (!into.command.empty()) into.runtime = into.runtime_written.value_or(runtime_of(into.command));
        });
    return table;
}

}  // namespace

void read_cron(ValueReader& reader, const toml::node& node, const std::string& path, std::optional<CronSchedule>& into) {
    std::string text, problem;
    if (!reader.read_string(node, path, text)) return;
    into = CronSchedule::parse(text, problem);
    if (!into) reader.report(node, path, problem);
}

namespace {

KeyTable<Task> task_keys() {
    KeyTable<Task> table;
    table.nonempty_string("name", &Task::name, "the name the message carries")
        .required()
        .duration("every", &Task::every, Zero::rejected, "runs at this interval")
        .default_is("none", false)
        .custom("cron", cron_type, "none", false, "runs at these cron times",
                [](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                   Task& into) { read_cron(reader, value, path, into.cron); })
        .choice("to", &Task::to, {{"worker", Task::Target::worker}, {"singleton", Task::Target::singleton}},
                "who gets the message: one ready worker, or the singleton")
        .checked_by([](ValueReader& reader, const toml::table& table, const std::string& path, Task&) {
            if (table.contains("every") == table.contains("cron")) {
                reader.report(table.source().begin, path,
                              "needs exactly one of every = \"DURATION\" and cron = \"EXPRESSION\"");
            }
        });
    return table;
}

KeyTable<Certificate> certificate_keys() {
    KeyTable<Certificate> table;
    table.nonempty_string("cert", &Certificate::cert, "the certificate chain, PEM, leaf first")
        .required()
        .nonempty_string("key", &Certificate::key, "its unencrypted private key, PEM")
        .required();
    return table;
}

void read_certificate(ValueReader& reader, const toml::table& table, const std::string& path,
                      std::vector<Certificate>& into) {
    Certificate certificate;
    built_once<certificate_keys>().read(reader, table, path, certificate);
    if (certificate.cert.empty() || certificate.key.empty()) return;  // reported
    certificate.cert = (reader.config_dir() / certificate.cert).lexically_normal().string();
    certificate.key = (reader.config_dir() / certificate.key).lexically_normal().string();
    const CertificateProblems problems = check_certificate(certificate.cert, certificate.key);
    if (!problems.cert.empty()) reader.report(*table.get("cert"), child(path, "cert"), problems.cert);
    if (!problems.key.empty()) reader.report(*table.get("key"), child(path, "key"), problems.key);
    into.push_back(std::move(certificate));
}

}  // namespace

Runtime runtime_of(const std::vector<std::string>& command) {
    const std::string program = fs::path(command.front()).filename().string();
    return program == "node" || program == "nodejs" ? Runtime::node : Runtime::native;
}

// `count` failed starts or crashes within `window` quarantine the site for `cooldown`.
KeyTable<RestartLimit> restart_limit_keys(const RestartLimit& defaults) {
    KeyTable<RestartLimit> table(defaults);
    table.integer("count", &RestartLimit::count, 1, 100'000, "failures that quarantine the site")
        .duration("window", &RestartLimit::window, Zero::rejected, "within this time")
        .duration("cooldown", &RestartLimit::cooldown, Zero::rejected, "for this time");
    return table;
}

KeyTable<RestartBackoff> restart_backoff_keys(const RestartBackoff& defaults) {
    KeyTable<RestartBackoff> table(defaults);
    table.duration("initial", &RestartBackoff::initial, Zero::rejected, "the delay after the first failure")
        .duration("max", &RestartBackoff::max, Zero::rejected, "the longest delay, reached by doubling")
        .checked_by([](ValueReader& reader, const toml::table& table, const std::string& path, RestartBackoff& into) {
            if (table.contains("max") && into.max < into.initial) {
                reader.report(*table.get("max"), child(path, "max"), "must not be less than initial");
            }
        });
    return table;
}

KeyTable<ResourceLimits> resource_limit_keys() {
    KeyTable<ResourceLimits> table;
    table.integer("open_files", &ResourceLimits::open_files, 1, 1'048'576, "RLIMIT_NOFILE of the workers")
        .default_is("none", false)
        // Below a mebibyte not even the dynamic loader fits: the worker could never start.
        .size_at_least("address_space", &ResourceLimits::address_space, 1024 * 1024, "1MiB",
                       "RLIMIT_AS of the workers, bytes")
        .default_is("none", false);
    return table;
}

void read_singleton(ValueReader& reader, const toml::node& node, const std::string& path,
                    std::optional<Singleton>& into) {
    if (const auto* table = reader.table_at(node, path)) {
        SingletonDraft singleton;
        built_once<singleton_keys>().read(reader, *table, path, singleton);
        into = static_cast<Singleton&&>(singleton);
    }
}

std::vector<KeyDoc> singleton_key_docs() {
    return built_once<singleton_keys>().docs();
}

void read_tasks(ValueReader& reader, const toml::node& node, const std::string& path, bool has_singleton,
                std::vector<Task>& into) {
    const auto* tasks = reader.array_at(node, path);
    if (!tasks) return;
    for (std::size_t index = 0; index < tasks->size(); ++index) {
        const std::string task_path = element(path, index);
        const auto* table = reader.table_at((*tasks)[index], task_path);
        if (!table) continue;
        Task task;
        built_once<task_keys>().read(reader, *table, task_path, task);
        if (task.to == Task::Target::singleton && !has_singleton) {
            reader.report(table->source().begin, child(task_path, "to"),
                          "names the singleton, but the site has no [singleton]");
        }
        into.push_back(std::move(task));
    }
}

std::vector<KeyDoc> task_key_docs() {
    return built_once<task_keys>().docs();
}

void read_certificates(ValueReader& reader, const toml::node& node, const std::string& path,
                       std::vector<Certificate>& into) {
    if (const auto* table = node.as_table()) {
        read_certificate(reader, *table, path, into);
        return;
    }
    const auto* array = node.as_array();
    if (!array || array->empty()) {
        reader.report(node, path, "must be a table { cert = \"…\", key = \"…\" } or a non-empty array of them");
        return;
    }
    for (std::size_t index = 0; index < array->size(); ++index) {
        const std::string entry_path = element(path, index);
        if (const auto* table = reader.table_at((*array)[index], entry_path)) read_certificate(reader, *table, entry_path, into);
    }
}

std::vector<KeyDoc> certificate_key_docs() {
    return built_once<certificate_keys>().docs();
}

namespace {

KeyTable<Affinity> affinity_keys() {
    KeyTable<Affinity> table;
    table.nonempty_string("cookie", &Affinity::cookie, "the cookie whose value picks the worker").required();
    return table;
}

}  // namespace

void read_affinity(ValueReader& reader, const toml::node& node, const std::string& path, Affinity& into) {
    constexpr const char* expected = "must be \"none\", \"client\" or { cookie = \"NAME\" }";
    if (const auto* word = node.as_string()) {
        if (word->get() == "none") {
            into = {};
        } else if (word->get() == "client") {
            into = {.by = Affinity::By::client, .cookie = {}};
        } else if (word->get() == "cookie") {
            reader.report(node, path, "names no cookie: write affinity = { cookie = \"NAME\" }");
        } else {
            reader.report(node, path, expected);
        }
        return;
    }
    const auto* table = node.as_table();
    if (!table) {
        reader.report(node, path, expected);
        return;
    }
    Affinity affinity{.by = Affinity::By::cookie, .cookie = {}};
    built_once<affinity_keys>().read(reader, *table, path, affinity);
    if (affinity.cookie.empty()) return;  // reported
    if (!std::all_of(affinity.cookie.begin(), affinity.cookie.end(), http::is_token_char)) {
        reader.report(*table->get("cookie"), child(path, "cookie"),
                      "must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)");
        return;
    }
    into = std::move(affinity);
}

std::vector<KeyDoc> affinity_key_docs() {
    return built_once<affinity_keys>().docs();
}

namespace {

void read_ask(ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path, OnDemand& into) {
    std::string url;
    if (!reader.read_string(value, path, url)) return;
    const bool printable = std::none_of(url.begin(), url.end(), [](char c) { return c <= ' ' || c == 0x7f || c == '#'; });
    if (!url.starts_with("http://") || url.size() == 7 || url[7] == '/' || !printable) {
        reader.report(value, path, "must be an http:// URL, like \"http://127.0.0.1:9123/allowed\" (vhostd adds ?domain=NAME)");
        return;
    }
    into.ask = std::move(url);
}

// One name per line; blank lines and lines starting with '#' are skipped.
void read_allow_file(ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path, OnDemand& into) {
    if (!reader.read_path(value, path, into.allow_file)) return;
    std::ifstream file(into.allow_file);
    if (!file) {
        reader.report(value, path, "cannot read '" + into.allow_file + "'");
        return;
    }
    std::string line;
    for (int number = 1; std::getline(file, line); ++number) {
        line.erase(0, line.find_first_not_of(" \t\r"));
        line.erase(line.find_last_not_of(" \t\r") + 1);
        if (line.empty() || line.front() == '#') continue;
        std::optional<std::string> name = http::normalize_host(line);
        if (!name || http::is_address(*name)) {
            reader.report(value, path, "line " + std::to_string(number) + " of '" + into.allow_file + "' is not a host name: \"" + line + "\"");
            continue;
        }
        into.allowed.push_back(std::move(*name));
    }
    std::sort(into.allowed.begin(), into.allowed.end());
}

KeyTable<OnDemand> on_demand_keys() {
    KeyTable<OnDemand> table;
    table.custom("ask", "string (an http URL)", "none", false, "asked GET ?domain=NAME before a certificate is ordered; 2xx allows", read_ask)
        .custom("allow_file", "string", "none", false, "a file of allowed names, one per line (read at start and reload)", read_allow_file)
        .checked_by([](ValueReader& reader, const toml::table& table, const std::string& path, OnDemand&) {
            if (table.contains("ask") == table.contains("allow_file")) {
                reader.report(table.source().begin, path, "needs exactly one of ask = \"http://…\" and allow_file = \"FILE\"");
            }
        });
    return table;
}

}  // namespace

void read_on_demand(ValueReader& reader, const toml::node& node, const std::string& path, std::optional<OnDemand>& into) {
    if (const auto* table = reader.table_at(node, path)) {
        OnDemand on_demand;
        built_once<on_demand_keys>().read(reader, *table, path, on_demand);
        into = std::move(on_demand);
    }
}

std::vector<KeyDoc> on_demand_key_docs() {
    return built_once<on_demand_keys>().docs();
}

}  // namespace vhostd::conf
