#include "admin/status_json.hpp"

#include <chrono>

namespace vhostd::admin {

namespace json = boost::json;

namespace {

double microseconds(std::chrono::nanoseconds duration) { return std::chrono::duration<double, std::micro>(duration).count(); }

json::object counts(const std::map<std::string, std::uint64_t>& by_name) {
    json::object object;
    for (const auto& [name, count] : by_name) object[name] = count;
    return object;
}

json::object render_site(const supervisor::SiteSnapshot& site, const server::SiteFrontTotals& front) {
    json::array hosts;
    for (const auto& host : site.hosts) hosts.emplace_back(host);
    auto process = [](const supervisor::WorkerSnapshot& worker) {
        return json::object{
            {"pid", worker.pid},
            {"slot", worker.slot},
            {"generation", worker.generation},
            {"state", worker.state},
            {"retiring", worker.retiring.empty() ? json::value(nullptr) : json::value(worker.retiring)},
            {"uptime_seconds", worker.uptime_seconds},
            {"rss_bytes", worker.rss_bytes},
            {"cpu_seconds", worker.cpu_seconds},
            {"active_connections", worker.active_connections},
            {"requests", worker.requests},
            {"websockets", worker.websockets},
        };
    };
    json::array workers;
    for (const auto& worker : site.workers) workers.push_back(process(worker));
    auto summary = [](const supervisor::LatencyHistogram& histogram) {
        return json::object{{"count", histogram.count()},
                            {"p50", microseconds(histogram.quantile(0.5))},
                            {"p90", microseconds(histogram.quantile(0.9))},
                            {"p99", microseconds(histogram.quantile(0.99))}};
    };
    return {
        {"name", site.name},
        {"hosts", std::move(hosts)},
        {"default", site.is_default},
        {"min_workers", site.min_workers},
        {"max_workers", site.max_workers},
        {"stopped", site.stopped},
        {"quarantined", site.quarantined},
        {"quarantine_seconds_left", site.quarantine_seconds_left},
        {"connections", front.connections},
        {"handed_off", site.handed_off},
        {"websocket_upgrades", front.websocket_upgrades},
        {"answered", json::object{{"503", site.answered_503}}},
        {"queue_length", site.queue_length},
        {"queue_wait_us", summary(site.queue_wait)},
        {"handoff_latency_us", summary(site.handoff_latency)},
        {"requests", site.requests},
        {"active_connections", site.active_connections},
        {"websockets", site.websockets},
        {"restarts", counts(site.restarts)},
        {"workers_by_state", counts(site.workers_by_state)},
        // null unless workers are being replaced
        {"roll", site.roll_of == 0 ? json::value(nullptr)
                                   : json::value(json::object{{"replaced", site.roll_replaced},
                                                              {"of", site.roll_of},
                                                              {"problem", site.roll_problem.empty() ? json::value(nullptr)
                                                                                                    : json::value(site.roll_problem)}})},
        {"workers", std::move(workers)},
        // null for a site without one; pid 0 while it is not running
        {"singleton", site.has_singleton ? json::value(process(site.singleton)) : json::value(nullptr)},
        {"singleton_failures", site.singleton_failures},
        {"messages", json::object{{"delivered", site.messages_delivered},
                                  {"undeliverable", site.messages_undeliverable},
                                  {"app_dropped", site.app_messages_dropped}}},
        {"tasks", json::object{{"run", site.tasks_run}, {"skipped", site.tasks_skipped}}},
    };
}

double unix_seconds(acme::Clock::time_point time) { return std::chrono::duration<double>(time.time_since_epoch()).count(); }

json::object render_certificate(const acme::CertificateStatus& entry, acme::Clock::time_point now) {
    json::value certificate = nullptr;
    if (entry.certificate) {
        json::array names;
        for (const auto& name : entry.certificate->names) names.emplace_back(name);
        certificate = json::object{{"issuer", entry.certificate->issuer},
                                   {"serial", entry.certificate->serial},
                                   {"names", std::move(names)},
                                   {"not_before", unix_seconds(entry.certificate->not_before)},
                                   {"not_after", unix_seconds(entry.certificate->not_after)},
                                   {"expires_in_seconds", std::chrono::duration<double>(entry.certificate->not_after - now).count()}};
    }
    return {
        {"name", entry.name},
        {"site", entry.site},
        {"state", certificate_state(entry, now)},
        {"certificate", std::move(certificate)},
        {"next_attempt", unix_seconds(entry.next_attempt)},
        {"renewal_window", entry.renewal_window ? json::value(json::object{{"start", unix_seconds(entry.renewal_window->start)},
                                                                           {"end", unix_seconds(entry.renewal_window->end)},
                                                                           {"explanation_url", entry.renewal_window->explanation_url}})
                                                : json::value(nullptr)},
        {"last_attempt", entry.last_attempt ? json::value(unix_seconds(*entry.last_attempt)) : json::value(nullptr)},
        {"last_error", entry.last_error.empty() ? json::value(nullptr) : json::value(entry.last_error)},
        {"failures", entry.failures},
    };
}

}  // namespace

std::string certificate_state(const acme::CertificateStatus& certificate, acme::Clock::time_point now) {
    const bool served = certificate.certificate && certificate.certificate->not_after > now;
    if (certificate.attempting) return served ? "renewing" : "obtaining";
    if (certificate.failures > 0) return "retrying";
    if (served) return "valid";
    return certificate.certificate ? "expired" : "pending";
}

json::object render_status(const ServerInfo& server, const server::FrontTotals& front, const std::vector<supervisor::SiteSnapshot>& sites,
                           const CertificateReport& certificates) {
    json::array certificate_list;
    for (const auto& certificate : certificates.certificates) certificate_list.push_back(render_certificate(certificate, certificates.now));
    const acme::CertificateCounters& counters = certificates.counters;
    json::object answered;
    for (const auto& [status, count] : front.answered) answered[std::to_string(status)] = count;
    json::array site_list;
    for (const auto& site : sites) {
        const auto found = front.sites.find(site.name);
        site_list.push_back(render_site(site, found != front.sites.end() ? found->second : server::SiteFrontTotals{}));
    }
    return {
        {"server",
         json::object{{"version", server.version},
                      {"pid", server.pid},
                      {"uptime_seconds", server.uptime_seconds},
                      {"config", server.config_path},
                      {"reloads", server.reloads},
                      {"threads", server.threads},
                      {"upgrade", server.upgrade}}},
        {"front", json::object{{"accepted", front.accepted},
                               {"in_front", server.in_front},
                               {"closed_without_answer", front.closed_without_answer},
                               {"refused_over_limit", front.refused_over_limit},
                               {"tls_handshake_failures", front.tls_handshake_failures},
                               {"tls_handshakes_dropped", front.tls_handshakes_dropped},
                               {"tls_relays", server.tls_relays},
                               {"answered", std::move(answered)}}},
        {"sites", std::move(site_list)},
        {"certificates", std::move(certificate_list)},
        {"acme", json::object{{"orders", counters.orders},
                              {"issued", counters.issued},
                              {"issue_failures", counters.issue_failures},
                              {"renewed", counters.renewed},
                              {"renewal_failures", counters.renewal_failures}}},
    };
}

}  // namespace vhostd::admin
