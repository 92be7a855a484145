// The configuration as plain immutable data. conf/ is the only place that knows TOML;
// everything else takes these structs. Their member initialisers are the config file's
// defaults, written nowhere else: the loader's key tables (conf/key_table.hpp) show them
// through conf/keys.hpp, and a test holds docs/configuration.md to them.
#pragma once

#include "conf/cron_schedule.hpp"

#include "conf/address_range.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vhostd::conf {

using Duration = std::chrono::milliseconds;

// "host:port" split once at load time. IPv6 hosts are kept without brackets.
struct Endpoint {
    std::string host;    // "0.0.0.0", "127.0.0.1", "::1"
    std::uint16_t port = 0;

    bool operator==(const Endpoint&) const = default;
};

struct Listener {
    std::string address;  // as written, for messages
    Endpoint endpoint;
    bool tls = false;
    // Connections start with a PROXY protocol header (v1 or v2) from a load balancer in
    // front; only sources in proxy_from may connect, and the client address is the header's.
    bool proxy_protocol = false;
    std::vector<AddressRange> proxy_from;

    bool operator==(const Listener&) const = default;
};

struct ServerSettings {
    unsigned threads = 1;  // one event loop serves a 2-core machine best (docs/benchmarks.md)
    Duration head_timeout = std::chrono::seconds(10);
    std::size_t max_head_size = 16 * 1024;
    std::size_t max_header_fields = 100;
    // What slow or hostile clients may hold of the front. A connection "waits" from accept
    // until its head is complete (for TLS: handshake and head); one whose head is complete
    // at the first peek never waits. Past a limit the new connection is closed and counted.
    std::size_t max_waiting_heads = 10'000;        // all clients together
    std::size_t max_waiting_heads_per_ip = 256;    // one client address
    // Connections of one client address the front holds at once: waiting, or relayed (TLS
    // terminate mode). Handed plain connections belong to the workers and do not count.
    std::size_t max_connections_per_ip = 1024;
    // TLS handshakes in progress at once (~45 KB each), shared evenly by the front threads:
    // past it the oldest is dropped.
    std::size_t max_tls_handshakes = 1000;
    unsigned backlog = 4096;                       // listen(2) backlog; the kernel caps it at net.core.somaxconn
    // Started as root, vhostd runs as this user once its sockets are open; empty = stay.
    std::string user;
    std::string group;
    // Where the workers' output is written, one set of files per site; empty = no such files.
    std::string log_dir;                   // absolute when set
    std::uint64_t log_max_size = 10 * 1024 * 1024;  // bytes; a site's file this big is rotated
    std::string access_log;        // absolute; empty = no access log
    bool access_log_json = false;  // access_log_format = "json"
    unsigned log_files = 5;                // how many files rotation keeps per site

    bool operator==(const ServerSettings&) const = default;
};

struct AdminSettings {
    std::string address;
    Endpoint endpoint;
    std::string token_file;  // absolute; empty = no token (then keep the admin port on loopback)
    std::vector<std::string> hosts;  // normalised: more Host values it answers (DNS rebinding guard)

    bool operator==(const AdminSettings&) const = default;
};

// How an ACME server may check that vhostd answers for a name (RFC 8555 §8.3, RFC 8737).
enum class AcmeChallenge { http01, tls_alpn01 };

// [acme]: where certificates for `tls = "auto"` sites come from, and where they are kept.
struct AcmeSettings {
    std::string directory = "https://acme-v02.api.letsencrypt.org/directory";
    std::string email;                     // the account's contact; empty: none
    std::string state_dir = "/var/lib/vhostd/acme";  // absolute
    std::string ca_bundle;                 // absolute; empty: the system's roots
    std::vector<AcmeChallenge> challenges = {AcmeChallenge::http01, AcmeChallenge::tls_alpn01};  // in preference order
    unsigned renew_percent_left = 33;      // renew when this much of the lifetime is left
    Duration retry_initial = std::chrono::minutes(1);  // after a failed attempt; doubles
    Duration retry_max = std::chrono::hours(24);
    Duration order_timeout = std::chrono::minutes(5);  // one attempt, order to chain
    unsigned on_demand_per_minute = 10;    // on-demand orders, all sites together
    Duration on_demand_wait = std::chrono::seconds(20);  // a handshake waits this long for one

    bool operator==(const AcmeSettings&) const = default;
};

// On-demand TLS: which names matching an auto site, but not listed in its hosts, may get a
// certificate at their first handshake. Exactly one of the two is set.
struct OnDemand {
    std::string ask;                   // http:// URL; GET ?domain=NAME, 2xx = allowed
    std::vector<std::string> allowed;  // normalised names, read from allow_file at load
    std::string allow_file;            // absolute, as given; empty when ask is used

    bool operator==(const OnDemand&) const = default;
};

// `count` failed starts or crashes within `window` quarantine the site for `cooldown`.
struct RestartLimit {
    unsigned count = 10;
    Duration window = std::chrono::seconds(60);
    Duration cooldown = std::chrono::seconds(60);

    bool operator==(const RestartLimit&) const = default;
};

// The delay before starting a worker again after a failure: `initial`, doubling with each
// failure in a row, at most `max`. A worker that ran a while resets it.
struct RestartBackoff {
    Duration initial = std::chrono::milliseconds(100);
    Duration max = std::chrono::seconds(10);

    bool operator==(const RestartBackoff&) const = default;
};

// setrlimit() values for the workers; 0 = leave what vhostd has.
struct ResourceLimits {
    std::uint64_t open_files = 0;          // RLIMIT_NOFILE
    std::uint64_t address_space = 0;       // RLIMIT_AS, bytes

    bool operator==(const ResourceLimits&) const = default;
};

// One certificate chain and its private key, PEM files, absolute paths.
struct Certificate {
    std::string cert;
    std::string key;

    bool operator==(const Certificate&) const = default;
};

// How a site's HTTPS connections are served: vhostd completes the handshake and relays
// plain HTTP to the worker, or hands the worker the raw TCP connection (ClientHello unread)
// and the worker terminates TLS itself.
enum class TlsMode { terminate, passthrough };

// What the site's program speaks on the channel. `node` workers also get Node.js's own IPC
// variables, so that `process.on('message', (msg, socket) => ...)` receives connections.
enum class Runtime { native, node };

// One process beside a site's workers for what must happen once per site. It is started
// before them, gets no connections, and is restarted gently (never rotated).
struct Singleton {
    std::vector<std::string> command;      // resolved like a site's command
    Runtime runtime = Runtime::native;
    std::map<std::string, std::string> env;  // on top of the site's env
    Duration start_timeout = std::chrono::seconds(30);
    RestartBackoff restart_backoff{std::chrono::seconds(1), std::chrono::seconds(60)};

    bool operator==(const Singleton&) const = default;
};

// A message vhostd sends on a schedule to one ready worker, or to the singleton.
struct Task {
    enum class Target { worker, singleton };
    std::string name;
    Duration every{0};                     // set when the task runs at an interval
    std::optional<CronSchedule> cron;      // set when it runs at cron times
    Target to = Target::worker;

    bool operator==(const Task&) const = default;
};

// Which worker slot a site's connections go to, so that a client keeps reaching the process
// that holds its session. `none`: the least busy worker. `client`: a stable hash of the
// client's address (the one a trusted PROXY header names). `cookie`: a hash of that cookie's
// value, read from the request head; a connection without it goes to the least busy worker.
struct Affinity {
    enum class By { none, client, cookie };
    By by = By::none;
    std::string cookie;  // the cookie's name, with By::cookie

    bool operator==(const Affinity&) const = default;
};

// The most workers one site may have (workers, max_workers).
inline constexpr unsigned max_pool_size = 256;

struct Site {
    std::string name;
    std::vector<std::string> hosts;        // lower-case; "*.suffix" for wildcards
    // command[0] resolved against the config dir if it has a '/'. `static = "DIR"` and
    // `upstream = [...]` in the file become ["vhostd-static", "--root", DIR] and
    // ["vhostd-upstream", "--", ...]: the bundled workers, found beside vhostd.
    std::vector<std::string> command;
    Runtime runtime = Runtime::native;     // `runtime`, else node when command[0] is node/nodejs
    std::string cwd;                       // absolute; defaults to the config file's directory
    std::map<std::string, std::string> env;
    // Account the workers run as, looked up when they are started; empty = vhostd's own.
    std::string user;
    std::string group;
    ResourceLimits limits;
    // The pool grows on demand from min_workers to max_workers; `workers = N` in the file
    // means min = max = N.
    unsigned min_workers = 1;
    unsigned max_workers = 1;
    Duration idle_timeout = std::chrono::seconds(60);   // a worker above min_workers idle this long is drained
    bool is_default = false;
    Duration max_age = std::chrono::hours(1);           // rotate a worker this old; 0 = never
    std::uint64_t max_memory = 0;          // bytes; rotate a worker whose RSS passes this; 0 = no limit
    std::uint64_t max_requests = 0;        // rotate a worker after this many requests; 0 = no limit
    // Workers replaced at a time (rotation, restart, reload): a pool of N never runs more
    // than N + max_surge worker processes, draining ones included.
    unsigned max_surge = 1;
    // Roll the workers at these cron times (PM2's cron_restart), as `vhostctl restart` does.
    std::optional<CronSchedule> cron_restart;
    Affinity affinity;
    Duration start_timeout = std::chrono::seconds(30);  // no ready message within this = a failed start
    Duration heartbeat_timeout = std::chrono::seconds(10);
    Duration drain_timeout = std::chrono::seconds(30);
    Duration kill_timeout = std::chrono::seconds(3);    // from SIGTERM to SIGKILL
    RestartLimit restart_limit;
    RestartBackoff restart_backoff;
    // Connections the front has handed to one worker that it has not acknowledged yet.
    unsigned max_in_flight = 16;
    // Connections waiting in the front for a worker of this site.
    std::size_t queue_size = 1024;
    Duration queue_timeout = std::chrono::seconds(5);
    // Chosen by SNI on `tls = true` listeners; several (RSA and ECDSA) may serve one site.
    std::vector<Certificate> certificates;
    bool acme = false;                     // tls = "auto": one certificate per host, from [acme]
    std::optional<OnDemand> on_demand;     // with acme: names found at handshakes, too
    TlsMode tls_mode = TlsMode::terminate;
    bool https_redirect = false;           // plain-HTTP requests get 308 to the https URL
    std::optional<Singleton> singleton;
    std::vector<Task> tasks;
    // Directories whose changes roll the workers (dev mode); absolute, config-relative in the file.
    std::vector<std::string> watch;
    Duration watch_debounce = std::chrono::milliseconds(500);

    bool operator==(const Site&) const = default;
};

struct Config {
    std::string path;                      // absolute path of the file it came from
    std::vector<Listener> listeners;
    ServerSettings server;
    std::optional<AdminSettings> admin;
    AcmeSettings acme;
    std::vector<Site> sites;               // in file order

    bool operator==(const Config&) const = default;
};

}  // namespace vhostd::conf
