#include "admin/prometheus.hpp"

#include <chrono>
#include <cmath>
#include <sstream>
#include <vector>

namespace vhostd::admin {

namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string escape(const std::string& value) {
    std::string escaped;
    for (const char c : value) {
        if (c == '\\') escaped += "\\\\";
        else if (c == '"') escaped += "\\\"";
        else if (c == '\n') escaped += "\\n";
        else escaped += c;
    }
    return escaped;
}

std::string number(double value) {
    if (std::isnan(value)) return "NaN";
    std::ostringstream out;
    out.precision(12);
    out << value;
    return out.str();
}

class Exposition {
public:
    // Starts a metric family; its samples must follow before the next family.
    void family(const std::string& name, const char* type, const char* help) {
        out_ << "# HELP " << name << ' ' << help << '\n' << "# TYPE " << name << ' ' << type << '\n';
    }
    void sample(const std::string& name, const Labels& labels, double value) {
        out_ << name;
        if (!labels.empty()) {
            out_ << '{';
            for (std::size_t i = 0; i < labels.size(); ++i) out_ << (i ? "," : "") << labels[i].first << "=\"" << escape(labels[i].second) << '"';
            out_ << '}';
        }
        out_ << ' ' << number(value) << '\n';
    }
    // A family with one unlabelled sample.
    void single(const std::string& name, const char* type, const char* help, double value) {
        family(name, type, help);
        sample(name, {}, value);
    }
    std::string text() const { return out_.str(); }

private:
    std::ostringstream out_;
};

// Bucket edges, in seconds: a handoff takes microseconds, a wait in the queue up to
// queue_timeout (seconds).
const std::vector<double> handoff_edges = {10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3};
const std::vector<double> queue_wait_edges = {1e-3, 5e-3, 10e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10, 30};

template <typename Value>
void per_site(Exposition& out, const std::string& name, const char* type, const char* help,
              const std::vector<supervisor::SiteSnapshot>& sites, Value value) {
    out.family(name, type, help);
    for (const auto& site : sites) out.sample(name, {{"site", site.name}}, static_cast<double>(value(site)));
}

}  // namespace

std::string render_metrics(const ServerInfo& server, const server::FrontTotals& front, const std::vector<supervisor::SiteSnapshot>& sites,
                           const CertificateReport& certificates) {
    Exposition out;
    out.family("vhostd_info", "gauge", "vhostd's version, as a label.");
    out.sample("vhostd_info", {{"version", server.version}}, 1);
    out.single("vhostd_uptime_seconds", "gauge", "Seconds since vhostd started.", server.uptime_seconds);
    out.single("vhostd_reloads_total", "counter", "Configuration reloads applied.", server.reloads);
    out.single("vhostd_connections_accepted_total", "counter", "Connections accepted on the public listeners.", static_cast<double>(front.accepted));
    out.single("vhostd_connections_closed_without_answer_total", "counter", "Connections that left (or never sent a byte) before a complete head.", static_cast<double>(front.closed_without_answer));
    out.single("vhostd_connections_refused_total", "counter", "Connections closed at once because a cap on waiting or per-client connections was reached.", static_cast<double>(front.refused_over_limit));
    out.single("vhostd_tls_handshake_failures_total", "counter", "TLS handshakes that failed (counted in closed_without_answer too).", static_cast<double>(front.tls_handshake_failures));
    out.single("vhostd_tls_handshakes_dropped_total", "counter", "TLS handshakes closed because max_tls_handshakes were in progress (the oldest goes; counted in the failures too).", static_cast<double>(front.tls_handshakes_dropped));
    out.single("vhostd_tls_relays", "gauge", "TLS connections handed over in terminate mode whose bytes vhostd relays now.", static_cast<double>(server.tls_relays));
    out.single("vhostd_connections_in_front", "gauge", "Connections accepted and not yet handed over or answered.", static_cast<double>(server.in_front));
    out.family("vhostd_front_answers_total", "counter", "Connections the front answered itself before routing, by status.");
    for (const auto& [status, count] : front.answered) out.sample("vhostd_front_answers_total", {{"status", std::to_string(status)}}, static_cast<double>(count));

    auto front_of = [&front](const supervisor::SiteSnapshot& site) {
        const auto found = front.sites.find(site.name);
        return found != front.sites.end() ? found->second : server::SiteFrontTotals{};
    };
    per_site(out, "vhostd_site_connections_total", "counter", "Connections routed to the site.", sites,
             [&](const auto& site) { return front_of(site).connections; });
    per_site(out, "vhostd_site_websocket_upgrades_total", "counter", "Routed connections asking for a WebSocket upgrade.", sites,
             [&](const auto& site) { return front_of(site).websocket_upgrades; });
    per_site(out, "vhostd_site_handoffs_total", "counter", "Connections handed to one of the site's workers.", sites,
             [](const auto& site) { return site.handed_off; });
    out.family("vhostd_site_answers_total", "counter", "Connections of the site the front answered itself, by status.");
    for (const auto& site : sites) out.sample("vhostd_site_answers_total", {{"site", site.name}, {"status", "503"}}, static_cast<double>(site.answered_503));
    per_site(out, "vhostd_site_queue_length", "gauge", "Connections waiting in the front for a worker.", sites,
             [](const auto& site) { return site.queue_length; });
    per_site(out, "vhostd_site_requests_total", "counter", "Requests served by the site's workers (from heartbeats).", sites,
             [](const auto& site) { return site.requests; });
    per_site(out, "vhostd_site_active_connections", "gauge", "Connections open in the site's workers (from heartbeats).", sites,
             [](const auto& site) { return site.active_connections; });
    per_site(out, "vhostd_site_websockets", "gauge", "WebSocket sessions open in the site's workers (from heartbeats).", sites,
             [](const auto& site) { return site.websockets; });
    per_site(out, "vhostd_site_quarantined", "gauge", "1 while the site is quarantined after repeated failures.", sites,
             [](const auto& site) { return site.quarantined ? 1 : 0; });
    out.family("vhostd_site_restarts_total", "counter", "Workers replaced, by reason.");
    for (const auto& site : sites) {
        for (const auto& [reason, count] : site.restarts) out.sample("vhostd_site_restarts_total", {{"site", site.name}, {"reason", reason}}, static_cast<double>(count));
    }
    per_site(out, "vhostd_site_singleton_failures_total", "counter", "Times the site's singleton failed (crashed, hung, failed to start).",
             sites, [](const auto& site) { return site.singleton_failures; });
    per_site(out, "vhostd_site_messages_total", "counter", "Bus messages, replies and tasks passed between the site's processes.",
             sites, [](const auto& site) { return site.messages_delivered; });
    per_site(out, "vhostd_site_messages_undeliverable_total", "counter", "Bus messages reported back as undeliverable.", sites,
             [](const auto& site) { return site.messages_undeliverable; });
    out.family("vhostd_site_workers", "gauge", "The site's workers, by state.");
    for (const auto& site : sites) {
        for (const auto& [state, count] : site.workers_by_state) out.sample("vhostd_site_workers", {{"site", site.name}, {"state", state}}, static_cast<double>(count));
    }

    auto histogram = [&](const std::string& name, const char* help, const std::vector<double>& edges, auto of) {
        out.family(name, "histogram", help);
        for (const auto& site : sites) {
            const supervisor::LatencyHistogram& values = of(site);
            for (const double edge : edges) {
                const auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(edge));
                out.sample(name + "_bucket", {{"site", site.name}, {"le", number(edge)}}, static_cast<double>(values.count_at_most(limit)));
            }
            out.sample(name + "_bucket", {{"site", site.name}, {"le", "+Inf"}}, static_cast<double>(values.count()));
            out.sample(name + "_sum", {{"site", site.name}}, std::chrono::duration<double>(values.sum()).count());
            out.sample(name + "_count", {{"site", site.name}}, static_cast<double>(values.count()));
        }
    };
    histogram("vhostd_site_handoff_latency_seconds", "Time from accept to the connection's fd sent to a worker.", handoff_edges,
              [](const auto& site) -> const supervisor::LatencyHistogram& { return site.handoff_latency; });
    histogram("vhostd_site_queue_wait_seconds", "Time connections waited in the front for a worker of the site.", queue_wait_edges,
              [](const auto& site) -> const supervisor::LatencyHistogram& { return site.queue_wait; });

    auto per_worker = [&](const std::string& name, const char* type, const char* help, auto value) {
        out.family(name, type, help);
        for (const auto& site : sites) {
            for (const auto& worker : site.workers) {
                out.sample(name, {{"site", site.name}, {"slot", std::to_string(worker.slot)}, {"pid", std::to_string(worker.pid)}},
                           static_cast<double>(value(worker)));
            }
        }
    };
    per_worker("vhostd_worker_uptime_seconds", "gauge", "Seconds since the worker started.", [](const auto& w) { return w.uptime_seconds; });
    per_worker("vhostd_worker_resident_memory_bytes", "gauge", "The worker's resident set size.", [](const auto& w) { return w.rss_bytes; });
    per_worker("vhostd_worker_cpu_seconds_total", "counter", "The worker's user and system CPU time.", [](const auto& w) { return w.cpu_seconds; });
    per_worker("vhostd_worker_requests_total", "counter", "Requests the worker served (from heartbeats).", [](const auto& w) { return w.requests; });
    per_worker("vhostd_worker_active_connections", "gauge", "Connections open in the worker (from heartbeats).",
               [](const auto& w) { return w.active_connections; });

    out.family("vhostd_certificate_expiry_seconds", "gauge",
               "Seconds until the served certificate of a tls = \"auto\" name expires (negative: expired).");
    for (const auto& entry : certificates.certificates) {
        if (!entry.certificate) continue;
        out.sample("vhostd_certificate_expiry_seconds", {{"name", entry.name}, {"site", entry.site}},
                   std::chrono::duration<double>(entry.certificate->not_after - certificates.now).count());
    }
    out.family("vhostd_certificate_failures", "gauge", "Failed attempts in a row for a tls = \"auto\" name (0: the last one succeeded).");
    for (const auto& entry : certificates.certificates) {
        out.sample("vhostd_certificate_failures", {{"name", entry.name}, {"site", entry.site}}, entry.failures);
    }
    const acme::CertificateCounters& counters = certificates.counters;
    out.family("vhostd_acme_certificates_total", "counter", "Attempts to obtain (issue) or renew (renewal) a certificate, by outcome.");
    out.sample("vhostd_acme_certificates_total", {{"kind", "issue"}, {"outcome", "success"}}, static_cast<double>(counters.issued));
    out.sample("vhostd_acme_certificates_total", {{"kind", "issue"}, {"outcome", "failure"}}, static_cast<double>(counters.issue_failures));
    out.sample("vhostd_acme_certificates_total", {{"kind", "renewal"}, {"outcome", "success"}}, static_cast<double>(counters.renewed));
    out.sample("vhostd_acme_certificates_total", {{"kind", "renewal"}, {"outcome", "failure"}}, static_cast<double>(counters.renewal_failures));
    out.single("vhostd_acme_orders_total", "counter", "Orders the ACME server accepted.", static_cast<double>(counters.orders));
    return out.text();
}

}  // namespace vhostd::admin
