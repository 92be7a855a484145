#include "apps/vhostctl/status_table.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace vhostd::ctl {

namespace json = boost::json;

namespace {

constexpr std::string_view missing = "-";

// The value at a path of object keys, or nullptr if any step is absent.
const json::value* find(const json::value& root, std::initializer_list<std::string_view> path) {
    const json::value* here = &root;
    for (std::string_view key : path) {
        const json::object* object = here->if_object();
        if (!object) return nullptr;
        here = object->if_contains(key);
        if (!here) return nullptr;
    }
    return here;
}

// boost::json keeps 250 as int64 and 12.5 as double; the table does not care which.
std::optional<double> number(const json::value* value) {
    if (!value) return std::nullopt;
    if (const auto* i = value->if_int64()) return static_cast<double>(*i);
    if (const auto* u = value->if_uint64()) return static_cast<double>(*u);
    if (const auto* d = value->if_double()) return *d;
    return std::nullopt;
}

std::string printf_number(const char* format, double value) {
    char text[64];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

// Counters are integers; printed without a fraction even if they came as doubles.
std::string count(const json::value* value) {
    if (!value) return std::string(missing);
    if (const auto* i = value->if_int64()) return std::to_string(*i);
    if (const auto* u = value->if_uint64()) return std::to_string(*u);
    if (const auto* d = value->if_double()) return printf_number("%.0f", *d);
    return std::string(missing);
}

std::string text(const json::value* value) {
    if (value && value->is_string()) return std::string(value->get_string());
    return std::string(missing);
}

// "42s", "5m03s", "3h12m", "2d04h": two units are enough to tell workers apart.
std::string duration(const json::value* value) {
    const std::optional<double> seconds = number(value);
    if (!seconds || *seconds < 0) return std::string(missing);
    const auto total = static_cast<unsigned long long>(*seconds);
    char out[48];
    if (total < 60) {
        std::snprintf(out, sizeof out, "%llus", total);
    } else if (total < 3600) {
        std::snprintf(out, sizeof out, "%llum%02llus", total / 60, total % 60);
    } else if (total < 86400) {
        std::snprintf(out, sizeof out, "%lluh%02llum", total / 3600, total % 3600 / 60);
    } else {
        std::snprintf(out, sizeof out, "%llud%02lluh", total / 86400, total % 86400 / 3600);
    }
    return out;
}

// Characters on screen, not bytes: "µ" is two bytes in UTF-8.
std::size_t display_width(std::string_view text) {
    std::size_t width = 0;
    for (unsigned char c : text) {
        if ((c & 0xC0) != 0x80) ++width;
    }
    return width;
}

// Pads every cell to its column's widest cell, on the left where `right` says so.
void align(std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
    std::vector<std::size_t> widths(right.size(), 0);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
    }
    for (auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            const std::string padding(widths[i] - display_width(row[i]), ' ');
            row[i] = right[i] ? padding + row[i] : row[i] + padding;
        }
    }
}

struct WorkerCount {
    std::optional<std::int64_t> ready;
    std::optional<std::int64_t> total;
};

// Live workers are the ones listed; the per-state tally is the fallback for a document
// without the list.
WorkerCount count_workers(const json::value& site) {
    WorkerCount counted;
    if (const json::value* workers = find(site, {"workers"}); workers && workers->is_array()) {
        counted.ready = 0;
        counted.total = static_cast<std::int64_t>(workers->get_array().size());
        for (const json::value& worker : workers->get_array()) {
            if (text(find(worker, {"state"})) == "ready") ++*counted.ready;
        }
    } else if (const json::value* by_state = find(site, {"workers_by_state"}); by_state && by_state->is_object()) {
        counted.ready = 0;
        counted.total = 0;
        for (const auto& [state, n] : by_state->get_object()) {
            const auto how_many = static_cast<std::int64_t>(number(&n).value_or(0));
            *counted.total += how_many;
            if (state == "ready") *counted.ready += how_many;
        }
    }
    return counted;
}

// quarantined: the restart limit stopped the site; degraded: fewer workers ready than the
// site's minimum (crashed and not back yet, or still starting).
std::string site_state(const json::value& site, const WorkerCount& workers) {
    if (const json::value* quarantined = find(site, {"quarantined"}); quarantined && quarantined->is_bool() &&
                                                                      quarantined->get_bool()) {
        return "quarantined";
    }
    const std::optional<double> min_workers = number(find(site, {"min_workers"}));
    if (min_workers && workers.ready && static_cast<double>(*workers.ready) < *min_workers) return "degraded";
    return "ok";
}

std::string restarts_total(const json::value& site) {
    const json::value* restarts = find(site, {"restarts"});
    if (!restarts || !restarts->is_object()) return std::string(missing);
    double total = 0;
    for (const auto& [reason, n] : restarts->get_object()) total += number(&n).value_or(0);
    return printf_number("%.0f", total);
}

// No handoff yet means no percentile worth showing, rather than a 0 that looks measured.
std::string handoff_p99(const json::value& site) {
    const std::optional<double> handed = number(find(site, {"handoff_latency_us", "count"}));
    const std::optional<double> p99 = number(find(site, {"handoff_latency_us", "p99"}));
    if (!p99 || (handed && *handed == 0)) return std::string(missing);
    return printf_number(*p99 < 10 ? "%.1f µs" : "%.0f µs", *p99);
}

std::string server_line(const json::value& status) {
    const json::value* server = find(status, {"server"});
    if (!server || !server->is_object()) return {};
    std::string line = "vhostd " + text(find(*server, {"version"}));
    line += "  pid " + count(find(*server, {"pid"}));
    line += "  up " + duration(find(*server, {"uptime_seconds"}));
    line += "  reloads " + count(find(*server, {"reloads"}));
    if (const json::value* config = find(*server, {"config"}); config && config->is_string()) {
        line += "  " + text(config);
    }
    return line + "\n";
}

std::vector<std::string> site_row(const json::value& site) {
    const WorkerCount workers = count_workers(site);
    const auto show = [](const std::optional<std::int64_t>& n) { return n ? std::to_string(*n) : std::string(missing); };
    return {
        text(find(site, {"name"})),
        site_state(site, workers),
        show(workers.ready) + "/" + show(workers.total),
        count(find(site, {"requests"})),
        count(find(site, {"active_connections"})),
        count(find(site, {"answered", "503"})),
        restarts_total(site),
        handoff_p99(site),
    };
}

std::vector<std::string> worker_cells(const json::value& worker) {
    const std::optional<double> rss = number(find(worker, {"rss_bytes"}));
    const std::optional<double> cpu = number(find(worker, {"cpu_seconds"}));
    return {
        count(find(worker, {"pid"})),
        text(find(worker, {"state"})),
        duration(find(worker, {"uptime_seconds"})),
        rss ? printf_number("%.1f", *rss / (1024.0 * 1024.0)) : std::string(missing),
        cpu ? printf_number("%.2f", *cpu) : std::string(missing),
        count(find(worker, {"requests"})),
    };
}

std::string worker_line(const std::vector<std::string>& cells, const json::value& worker) {
    std::string line = "  pid " + cells[0] + "  " + cells[1] + "  up " + cells[2] + "  " + cells[3] + " MiB  cpu " +
                       cells[4] + " s  " + cells[5] + " req";
    if (const json::value* retiring = find(worker, {"retiring"}); retiring && retiring->is_string()) {
        line += "  (retiring: " + text(retiring) + ")";
    }
    return line + "\n";
}

}  // namespace

std::string render_status_table(const json::value& status) {
    if (!status.is_object()) throw std::invalid_argument("the status document is not a JSON object");

    std::vector<const json::value*> sites;
    if (const json::value* list = find(status, {"sites"}); list && list->is_array()) {
        for (const json::value& site : list->get_array()) sites.push_back(&site);
    }

    // Workers of all sites share one set of column widths, so their lines line up too.
    std::vector<std::vector<std::string>> site_rows{
        {"NAME", "STATE", "WORKERS", "REQUESTS", "ACTIVE", "503s", "RESTARTS", "HANDOFF p99"}};
    std::vector<std::vector<std::string>> worker_rows;
    std::vector<std::vector<const json::value*>> workers_of_site;
    for (const json::value* site : sites) {
        site_rows.push_back(site_row(*site));
        workers_of_site.emplace_back();
        if (const json::value* workers = find(*site, {"workers"}); workers && workers->is_array()) {
            for (const json::value& worker : workers->get_array()) {
                worker_rows.push_back(worker_cells(worker));
                workers_of_site.back().push_back(&worker);
            }
        }
    }
    align(site_rows, {false, false, true, true, true, true, true, true});
    align(worker_rows, {true, false, true, true, true, true});

    std::string out = server_line(status);
    const auto add_row = [&out](const std::vector<std::string>& cells) {
        for (std::size_t i = 0; i < cells.size(); ++i) out += (i == 0 ? "" : "  ") + cells[i];
        out += "\n";
    };
    add_row(site_rows[0]);
    if (sites.empty()) out += "(no sites)\n";
    std::size_t next_worker = 0;
    for (std::size_t s = 0; s < sites.size(); ++s) {
        add_row(site_rows[s + 1]);
        for (const json::value* worker : workers_of_site[s]) out += worker_line(worker_rows[next_worker++], *worker);
    }
    return out;
}

namespace {

std::string utc_date(const json::value* value) {
    const std::optional<double> seconds = number(value);
    if (!seconds) return std::string(missing);
    const auto time = static_cast<std::time_t>(*seconds);
    std::tm parts{};
    gmtime_r(&time, &parts);
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%d %H:%M", &parts);
    return out;
}

// "in 3d04h", "now": when the next attempt is due.
std::string from_now(const json::value* value, double now_unix) {
    const std::optional<double> at = number(value);
    if (!at) return std::string(missing);
    if (*at <= now_unix) return "now";
    const json::value left(*at - now_unix);
    return "in " + duration(&left);
}

}  // namespace

std::string render_certificates_table(const json::value& status, double now_unix) {
    if (!status.is_object()) throw std::invalid_argument("the status document is not a JSON object");
    std::vector<std::vector<std::string>> rows{{"NAME", "SITE", "STATE", "ISSUER", "NOT AFTER (UTC)", "NEXT", "FAILURES", "LAST ERROR"}};
    if (const json::value* list = find(status, {"certificates"}); list && list->is_array()) {
        for (const json::value& entry : list->get_array()) {
            const json::value* certificate = find(entry, {"certificate"});
            const bool held = certificate && certificate->is_object();
            const std::optional<double> failures = number(find(entry, {"failures"}));
            rows.push_back({text(find(entry, {"name"})), text(find(entry, {"site"})), text(find(entry, {"state"})),
                            held ? text(find(*certificate, {"issuer"})) : std::string(missing),
                            held ? utc_date(find(*certificate, {"not_after"})) : std::string(missing),
                            from_now(find(entry, {"next_attempt"}), now_unix),
                            failures ? std::to_string(static_cast<long long>(*failures)) : std::string(missing),
                            text(find(entry, {"last_error"}))});
        }
    }
    if (rows.size() == 1) return "no certificates: no site has tls = \"auto\"\n";
    // The error is last and left unpadded: it may be long.
    align(rows, {false, false, false, false, false, false, true, false});
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) line += (i == 0 ? "" : "  ") + row[i];
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

}  // namespace vhostd::ctl
