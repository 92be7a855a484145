#include "acme/certificate_manager.hpp"

#include "acme/ask_endpoint.hpp"
#include "acme/csr.hpp"
#include "acme/jws.hpp"
#include "acme/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/host.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

namespace vhostd::acme {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);
// Between polls when the server gives no Retry-After: 100 ms, doubling to 1 s (pebble, and
// most validations, finish within a few hundred milliseconds).
struct PollWait {
    milliseconds current{50};
    milliseconds next() { return current = std::min(current * 2, milliseconds(1s)); }
};
constexpr milliseconds poll_cap = 30s;
// Attempts under way at once: kind to the CA, and what a thousand sessions' TLS buffers
// would otherwise take at start.
constexpr unsigned max_parallel_attempts = 8;

double random_fraction() {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

std::string challenge_name(conf::AcmeChallenge challenge) {
    return challenge == conf::AcmeChallenge::http01 ? "http-01" : "tls-alpn-01";
}

std::string host_of(const std::string& url) {
    const auto parsed = parse_https_url(url);
    return parsed ? parsed->host : url;
}

std::string format_time(Clock::time_point time) {
    const std::time_t seconds = Clock::to_time_t(time);
    std::tm parts{};
    ::gmtime_r(&seconds, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &parts);
    return text;
}

asio::awaitable<void> pause(milliseconds delay) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(token);
}

// Keeps a challenge answered for as long as it lives, across the awaits of one authorization.
class ChallengeOffer {
public:
    ChallengeOffer(Publisher& publisher, conf::AcmeChallenge type, std::string name, std::string challenge_token,
                   const std::string& key_authorization)
        : publisher_(publisher), type_(type), name_(std::move(name)), token_(std::move(challenge_token)) {
        if (type_ == conf::AcmeChallenge::http01) {
            publisher_.offer_http01(token_, key_authorization);
        } else {
            publisher_.offer_tls_alpn01(name_, tls_alpn_certificate(name_, key_authorization));
        }
    }
    ~ChallengeOffer() {
        if (type_ == conf::AcmeChallenge::http01) {
            publisher_.withdraw_http01(token_);
        } else {
            publisher_.withdraw_tls_alpn01(name_);
        }
    }
    ChallengeOffer(const ChallengeOffer&) = delete;
    ChallengeOffer& operator=(const ChallengeOffer&) = delete;

private:
    Publisher& publisher_;
    conf::AcmeChallenge type_;
    std::string name_;
    std::string token_;
};

}  // namespace

struct CertificateManager::Entry {
    Entry(asio::io_context& io, Wanted wanted) : name(wanted.names.front()), wanted(std::move(wanted)), timer(io) {}

    std::string name;  // the first of wanted.names: the certificate's directory and status line
    Wanted wanted;
    asio::steady_timer timer;
    std::optional<CertificateFacts> certificate;
    Clock::time_point due;
    Clock::time_point renewal_info_due = Clock::time_point::max();  // when to ask the CA's window again
    std::optional<RenewalInfo> window;  // the CA's suggestion for the served certificate
    double jitter = random_fraction();  // where in a window or a spread this certificate falls
    std::optional<Clock::time_point> last_attempt;
    std::string last_error;
    unsigned failures = 0;
    bool attempting = false;
    bool removed = false;
    bool dormant = false;  // an on-demand name that failed: tried again at its next handshake
    std::vector<std::function<void(bool)>> waiters;  // handshakes waiting for this certificate
};

// One attempt's time limit ([acme] order_timeout), checked before each wait.
struct CertificateManager::Deadline {
    std::chrono::steady_clock::time_point at;
    milliseconds limit;

    void check(const std::string& name, const std::string& waiting_for) const {
        if (std::chrono::steady_clock::now() < at) return;
        throw Error("gave up on " + name + " after order_timeout (" + std::to_string(limit.count() / 1000) + " s): " + waiting_for);
    }
};

CertificateManager::CertificateManager(asio::io_context& io, Publisher& publisher) : io_(io), publisher_(publisher), attempt_finished_(io, asio::steady_timer::time_point::max()) {}

CertificateManager::~CertificateManager() {
    for (auto& [name, entry] : entries_) {
        entry->removed = true;
        entry->timer.cancel();
    }
    attempt_finished_.cancel();
}

void CertificateManager::configure(const conf::Config& config) {
    // A terminating site gets a certificate per host, which the front picks by SNI. A
    // passthrough site's workers load one chain and key, so theirs covers all its hosts.
    // Wildcards and addresses are never ordered (an on_demand site matches them at handshakes).
    std::map<std::string, Wanted> wanted;  // by the first name
    std::map<std::string, conf::OnDemand> on_demand;
    for (const conf::Site& site : config.sites) {
        if (!site.acme) continue;
        if (site.on_demand) on_demand.emplace(site.name, *site.on_demand);
        std::vector<std::string> names;
        std::copy_if(site.hosts.begin(), site.hosts.end(), std::back_inserter(names),
                     [](const std::string& host) { return !host.starts_with("*.") && !http::is_address(host); });
        if (names.empty()) continue;
        if (site.tls_mode == conf::TlsMode::passthrough) {
            wanted.emplace(names.front(), Wanted{names, site.name, true, false});
        } else {
            for (const std::string& name : names) wanted.emplace(name, Wanted{{name}, site.name, false, false});
        }
    }
    if (wanted.empty() && on_demand.empty() && entries_.empty()) return;
    if (!lock_) {
        std::string problem;
        std::optional<StateLock> acquired = StateLock::acquire(config.acme.state_dir, problem);
        if (!acquired) throw std::runtime_error("[acme] state_dir: " + problem);
        lock_.emplace(std::move(*acquired));
        state_dir_ = config.acme.state_dir;
        const fs::path key_path = state_dir_ / "account.key";
        if (const auto stored = read_private_file(key_path)) {
            account_key_ = EcKey::from_pem(*stored, problem);
            if (!account_key_) throw std::runtime_error("the ACME account key " + key_path.string() + ": " + problem);
        } else {
            account_key_ = EcKey::generate();
            write_private_file(key_path, account_key_->private_pem());
            spdlog::info("ACME: created the account key {}", key_path.string());
        }
    } else if (config.acme.state_dir != state_dir_.string()) {
        spdlog::warn("reload: [acme] state_dir takes effect at the next start; still using {}", state_dir_.string());
    }
    const bool another_ca = config.acme.directory != settings_.directory;
    if (!client_tls_ || config.acme.ca_bundle != settings_.ca_bundle) {
        try {
            client_tls_ = std::make_shared<asio::ssl::context>(client_context(config.acme.ca_bundle));
        } catch (const std::exception& e) {
            throw std::runtime_error("[acme] ca_bundle: " + std::string(e.what()));
        }
    }
    settings_ = config.acme;
    if (another_ca) {
        // Whether the new CA offers renewal information, and its windows, are to be asked.
        ca_offers_renewal_info_.reset();
        for (auto& [name, entry] : entries_) {
            if (!entry->certificate || entry->attempting) continue;
            if (entry->failures == 0) schedule_renewal(*entry);
            entry->timer.cancel();
        }
    }
    usable_challenges_.clear();
    for (const conf::AcmeChallenge challenge : settings_.challenges) {
        const bool tls = challenge == conf::AcmeChallenge::tls_alpn01;
        if (std::any_of(config.listeners.begin(), config.listeners.end(), [tls](const conf::Listener& l) { return l.tls == tls; })) {
            usable_challenges_.push_back(challenge);
        }
    }

    on_demand_sites_ = std::move(on_demand);
    asked_.clear();  // an endpoint or a list may have changed
    for (auto it = entries_.begin(); it != entries_.end();) {
        const auto kept = wanted.find(it->first);
        if (kept == wanted.end() && it->second->wanted.on_demand && on_demand_sites_.contains(it->second->wanted.site)) {
            ++it;  // found at a handshake, and its site still takes such names
            continue;
        }
        if (kept != wanted.end() && kept->second.names == it->second->wanted.names) {
            it->second->wanted = kept->second;
            ++it;
            continue;
        }
        spdlog::info("ACME: the certificate for {} is no longer served: {}", it->first,
                     kept == wanted.end() ? "no auto site has that name any more" : "its site's names changed");
        forget(it++);
    }
    for (auto& [name, certificate] : wanted) {
        if (!entries_.contains(name)) start_managing(std::move(certificate));
    }
}

void CertificateManager::forget(std::map<std::string, std::shared_ptr<Entry>>::iterator it) {
    Entry& entry = *it->second;
    entry.removed = true;
    entry.timer.cancel();
    attempt_finished_.cancel();  // if it waits for its turn
    for (const std::string& name : entry.wanted.names) publisher_.drop_certificate(name);
    for (auto& waiter : std::exchange(entry.waiters, {})) waiter(false);
    entries_.erase(it);
}

CertificateManager::Entry& CertificateManager::start_managing(Wanted wanted) {
    const std::string name = wanted.names.front();
    auto entry = std::make_shared<Entry>(io_, std::move(wanted));
    entry->due = Clock::now();
    if (load_stored(*entry)) {
        schedule_renewal(*entry);
        spdlog::info("ACME: serving the stored certificate for {} (valid until {}; renewal from {})", name,
                     format_time(entry->certificate->not_after), format_time(entry->due));
    }
    entries_.emplace(name, entry);
    asio::co_spawn(io_, keep(entry), asio::detached);
    return *entry;
}

void CertificateManager::obtain_on_demand(const std::string& name, const std::string& site, std::function<void(bool)> done) {
    if (const auto found = entries_.find(name); found != entries_.end()) {
        Entry& entry = *found->second;
        if (entry.certificate && entry.certificate->not_after > Clock::now()) {
            done(true);
        } else if (entry.attempting) {
            entry.waiters.push_back(std::move(done));
        } else if (entry.failures > 0 && Clock::now() < entry.due) {
            spdlog::info("ACME on-demand: {} failed {} time(s) in a row; backing off for {} s more", name, entry.failures,
                         std::chrono::duration_cast<std::chrono::seconds>(entry.due - Clock::now()).count());
            done(false);
        } else {
            entry.waiters.push_back(std::move(done));
            entry.dormant = false;
            entry.due = Clock::now();
            entry.timer.cancel();
        }
        return;
    }
    const auto policy = on_demand_sites_.find(site);
    if (policy == on_demand_sites_.end()) {
        done(false);
        return;
    }
    asio::co_spawn(io_, admit_on_demand(name, site, policy->second, std::move(done)), asio::detached);
}

asio::awaitable<void> CertificateManager::admit_on_demand(std::string name, std::string site, conf::OnDemand policy,
                                                          std::function<void(bool)> done) {
    const auto now = std::chrono::steady_clock::now();
    bool allowed = false;
    if (policy.ask.empty()) {
        allowed = std::binary_search(policy.allowed.begin(), policy.allowed.end(), name);
    } else if (const auto cached = asked_.find(name); cached != asked_.end() && now < cached->second.until) {
        allowed = cached->second.allowed;
    } else {
        const std::string url = ask_url(policy.ask, name);
        try {
            const int status = co_await ask_endpoint(io_.get_executor(), url, std::chrono::seconds(5));
            allowed = status >= 200 && status < 300;
            if (asked_.size() >= 100'000) asked_.clear();  // a flood of names must not grow it without end
            asked_[name] = {allowed, now + std::chrono::minutes(1)};
        } catch (const std::exception& e) {
            spdlog::error("ACME on-demand: cannot ask about {}: {}; the handshake fails", name, e.what());
            done(false);
            co_return;
        }
    }
    if (!allowed) {
        spdlog::info("ACME on-demand: {} is not allowed for site {} (by its {}); the handshake fails without asking the CA", name, site,
                     policy.ask.empty() ? "allow_file" : "ask endpoint");
        done(false);
        co_return;
    }
    if (entries_.contains(name)) {  // another handshake got here first
        obtain_on_demand(name, site, std::move(done));
        co_return;
    }
    Entry& entry = start_managing(Wanted{{name}, site, false, true});
    if (entry.certificate) {  // stored before a restart
        done(true);
        co_return;
    }
    const auto minute_ago = std::chrono::steady_clock::now() - std::chrono::minutes(1);
    while (!on_demand_orders_.empty() && on_demand_orders_.front() < minute_ago) on_demand_orders_.pop_front();
    if (on_demand_orders_.size() >= settings_.on_demand_per_minute) {
        spdlog::warn("ACME on-demand: no order for {}: {} were placed in the last minute ([acme] on_demand_per_minute); the handshake fails",
                     name, on_demand_orders_.size());
        forget(entries_.find(name));
        done(false);
        co_return;
    }
    on_demand_orders_.push_back(std::chrono::steady_clock::now());
    spdlog::info("ACME on-demand: ordering a certificate for {} (site {}) while its handshake waits", name, site);
    entry.waiters.push_back(std::move(done));
}

fs::path CertificateManager::certificate_directory(const std::string& name) const {
    return state_dir_ / "certificates" / name;
}

bool CertificateManager::load_stored(Entry& entry) {
    const fs::path directory = certificate_directory(entry.name);
    std::optional<std::string> chain, key;
    try {
        chain = read_private_file(directory / "chain.pem");
        key = read_private_file(directory / "key.pem");
    } catch (const std::exception& e) {
        spdlog::warn("ACME: cannot read the stored certificate for {}: {}; ordering a new one", entry.name, e.what());
        return false;
    }
    if (!chain || !key) return false;
    std::string problem = check_pair(entry.wanted, *chain, *key);
    std::optional<CertificateFacts> facts = problem.empty() ? read_certificate_facts(*chain, problem) : std::nullopt;
    if (facts && facts->not_after <= Clock::now()) problem = "it expired at " + format_time(facts->not_after);
    if (problem.empty()) {
        try {
            serve(entry, *chain, *key);
        } catch (const std::exception& e) {
            problem = e.what();
        }
    }
    if (!problem.empty()) {
        spdlog::warn("ACME: the stored certificate for {} in {} is not used: {}; ordering a new one", entry.name, directory.string(), problem);
        return false;
    }
    entry.certificate = std::move(facts);
    return true;
}

void CertificateManager::schedule_renewal(Entry& entry) {
    entry.window.reset();
    entry.jitter = random_fraction();
    entry.due = renewal_time(entry.certificate->not_before, entry.certificate->not_after, settings_.renew_percent_left, entry.jitter);
    entry.renewal_info_due = ca_offers_renewal_info_ == false || entry.certificate->renewal_id.empty() ? Clock::time_point::max() : Clock::now();
}

asio::awaitable<bool> CertificateManager::take_turn(Entry& entry) {
    while (attempts_under_way_ >= max_parallel_attempts && !entry.removed) {
        co_await attempt_finished_.async_wait(token);  // it never expires; cancel() wakes every waiter
    }
    if (entry.removed) co_return false;
    ++attempts_under_way_;
    co_return true;
}

void CertificateManager::leave_turn() {
    --attempts_under_way_;
    attempt_finished_.cancel();  // the waiting ones look again
}

asio::awaitable<void> CertificateManager::keep(std::shared_ptr<Entry> entry) {
    for (;;) {
        const Clock::time_point wake = std::min(entry->due, entry->renewal_info_due);
        if (entry->dormant) {
            entry->timer.expires_at(asio::steady_timer::time_point::max());
        } else {
            entry->timer.expires_after(std::max(std::chrono::duration_cast<milliseconds>(wake - Clock::now()), milliseconds::zero()));
        }
        co_await entry->timer.async_wait(token);
        if (entry->removed) co_return;
        if (entry->dormant || Clock::now() < std::min(entry->due, entry->renewal_info_due)) continue;  // woken early
        if (!co_await take_turn(*entry)) co_return;
        if (Clock::now() < entry->due) {
            co_await check_renewal_info(*entry);
            leave_turn();
            if (entry->removed) co_return;
            continue;
        }
        const bool renewal = entry->certificate.has_value();
        entry->attempting = true;
        entry->last_attempt = Clock::now();
        std::string error;
        try {
            co_await attempt(*entry);
        } catch (const std::exception& e) {
            error = e.what();
        }
        entry->attempting = false;
        leave_turn();
        if (entry->removed) co_return;
        for (auto& waiter : std::exchange(entry->waiters, {})) waiter(error.empty());
        if (error.empty()) {
            entry->failures = 0;
            entry->last_error.clear();
            ++(renewal ? counters_.renewed : counters_.issued);
            schedule_renewal(*entry);
            spdlog::info("ACME: {} the certificate for {} from {} (valid until {}; renewal from {})", renewal ? "renewed" : "obtained",
                         entry->name, host_of(settings_.directory), format_time(entry->certificate->not_after), format_time(entry->due));
            continue;
        }
        ++entry->failures;
        ++(renewal ? counters_.renewal_failures : counters_.issue_failures);
        entry->last_error = error;
        const milliseconds delay = retry_delay(entry->failures, settings_.retry_initial, settings_.retry_max);
        entry->due = Clock::now() + delay;
        // An on-demand name without a certificate waits for its next handshake (and the backoff).
        entry->dormant = entry->wanted.on_demand && !entry->certificate;
        // A certificate still served is kept; the next attempt may still renew it in time.
        spdlog::error("ACME: {} the certificate for {} failed ({} in a row): {}; {}next attempt in {} s", renewal ? "renewing" : "obtaining",
                      entry->name, entry->failures, error, renewal ? "the current one is still served; " : "", delay.count() / 1000);
    }
}

asio::awaitable<void> CertificateManager::attempt(Entry& entry) {
    const Deadline deadline{std::chrono::steady_clock::now() + settings_.order_timeout,
                            std::chrono::duration_cast<milliseconds>(settings_.order_timeout)};
    const std::shared_ptr<asio::ssl::context> tls = client_tls_;  // held across a reload
    Session session(io_.get_executor(), *tls, settings_.directory, *account_key_);
    co_await open(session);
    std::vector<std::string> contact;
    if (!settings_.email.empty()) contact.push_back("mailto:" + settings_.email);
    co_await session.account(contact);
    const std::vector<std::string> names = entry.wanted.names;
    // A renewal says which certificate it replaces (RFC 9773 §5), which CAs may exempt from
    // rate limits. A CA refuses it when an earlier attempt's order claimed that already, or
    // when the certificate is another CA's (the directory changed): then a plain order.
    const std::string replaces = entry.certificate ? entry.certificate->renewal_id : std::string();
    const std::string replaces_nothing;
    Session::Placed placed;
    std::string refused_replaces;
    try {
        placed = co_await session.new_order(names, replaces);
    } catch (const Error& e) {
        if (replaces.empty() || e.problem_type().empty()) throw;
        refused_replaces = e.what();
    }
    if (!refused_replaces.empty()) {
        spdlog::info("ACME: {} refused an order for {} that replaces its certificate ({}); ordering without \"replaces\"",
                     host_of(settings_.directory), entry.name, refused_replaces);
        placed = co_await session.new_order(names, replaces_nothing);
    }
    ++counters_.orders;
    for (const std::string& url : placed.order.authorizations) co_await authorize(session, url, names, deadline);

    Order order = placed.order;
    PollWait wait;
    for (;;) {
        if (order.status == Status::ready || order.status == Status::valid) break;
        if (order.status != Status::pending && order.status != Status::processing) {
            throw Error("the order for " + entry.name + " is " + std::string(to_string(order.status)) +
                        (order.error ? ": " + describe(*order.error) : std::string()));
        }
        deadline.check(entry.name, "the order was still " + std::string(to_string(order.status)));
        co_await pause(retry_after(session.last_retry_after(), Clock::now(), wait.next(), poll_cap));
        order = co_await session.order(placed.url);
    }
    const EcKey key = EcKey::generate();
    wait = {};
    if (order.status == Status::ready) {
        const std::string csr = certificate_request(key, names);
        order = co_await session.finalize(order.finalize, csr);
    }
    while (order.status == Status::processing || order.status == Status::ready) {
        deadline.check(entry.name, "the CA was still issuing the certificate");
        co_await pause(retry_after(session.last_retry_after(), Clock::now(), wait.next(), poll_cap));
        order = co_await session.order(placed.url);
    }
    if (order.status != Status::valid) {
        throw Error("the order for " + entry.name + " is " + std::string(to_string(order.status)) + " after finalizing" +
                    (order.error ? ": " + describe(*order.error) : std::string()));
    }
    const std::string chain = co_await session.download_chain(order.certificate);
    if (entry.removed) co_return;
    store_and_serve(entry, chain, key);
}

asio::awaitable<void> CertificateManager::open(Session& session) {
    co_await session.open();
    ca_offers_renewal_info_ = !session.directory().renewal_info.empty();
}

asio::awaitable<void> CertificateManager::check_renewal_info(Entry& entry) {
    entry.renewal_info_due = Clock::time_point::max();
    if (!entry.certificate || entry.certificate->renewal_id.empty() || ca_offers_renewal_info_ == false) co_return;
    const std::string id = entry.certificate->renewal_id;
    const std::shared_ptr<asio::ssl::context> tls = client_tls_;
    Session session(io_.get_executor(), *tls, settings_.directory, *account_key_);
    std::optional<Session::Suggestion> suggestion;
    std::string error;
    try {
        co_await open(session);
        if (*ca_offers_renewal_info_) suggestion = co_await session.renewal_info(id);
    } catch (const std::exception& e) {
        error = e.what();
    }
    if (entry.removed) co_return;
    // No usable suggestion: the lifetime rule (RFC 9773 §4.3.3 leaves it to the client).
    const auto by_lifetime = [&] {
        if (!std::exchange(entry.window, std::nullopt) || entry.failures > 0) return;
        entry.due = renewal_time(entry.certificate->not_before, entry.certificate->not_after, settings_.renew_percent_left, entry.jitter);
    };
    if (!error.empty()) {
        const milliseconds recheck = renewal_info_recheck({}, Clock::now());
        entry.renewal_info_due = Clock::now() + recheck;
        by_lifetime();
        spdlog::warn("ACME: cannot ask {} when to renew the certificate for {}: {}; renewal from {} by its lifetime, asking again in {} min",
                     host_of(settings_.directory), entry.name, error, format_time(entry.due), recheck.count() / 60'000);
        co_return;
    }
    if (!suggestion) {  // this CA offers no renewal information
        by_lifetime();
        co_return;
    }
    entry.renewal_info_due = Clock::now() + renewal_info_recheck(suggestion->retry_after, Clock::now());
    const RenewalInfo& window = suggestion->info;
    if (window.start >= entry.certificate->not_after) {
        by_lifetime();
        spdlog::warn("ACME: {} suggests renewing the certificate for {} from {}, after it expires at {}; renewing by its lifetime", host_of(settings_.directory),
                     entry.name, format_time(window.start), format_time(entry.certificate->not_after));
        co_return;
    }
    const bool moved = !entry.window || entry.window->start != window.start || entry.window->end != window.end;
    entry.window = window;
    if (!moved || entry.failures > 0) co_return;  // a retry after a failure keeps its own time
    entry.due = time_in_window(window.start, window.end, entry.jitter);
    spdlog::info("ACME: {} suggests renewing the certificate for {} between {} and {}{}; renewal from {}", host_of(settings_.directory), entry.name,
                 format_time(window.start), format_time(window.end),
                 window.explanation_url.empty() ? std::string() : " (" + window.explanation_url + ")", format_time(entry.due));
}

asio::awaitable<void> CertificateManager::authorize(Session& session, const std::string& url, const std::vector<std::string>& names,
                                                    const Deadline& deadline) {
    Authorization authorization = co_await session.authorization(url);
    // Challenges are answered only for names vhostd ordered, whatever the server says.
    const std::string name = authorization.identifier.value;
    if (authorization.identifier.type != "dns" || std::find(names.begin(), names.end(), name) == names.end()) {
        throw Error("an authorization of the order for " + names.front() + " is for " + authorization.identifier.type + " '" + name +
                    "', which vhostd did not ask for");
    }
    if (authorization.status == Status::valid) co_return;  // validated before, and still valid
    if (authorization.status != Status::pending) {
        throw Error("the authorization for " + name + " is " + std::string(to_string(authorization.status)));
    }
    const Challenge* chosen = nullptr;
    conf::AcmeChallenge type{};
    for (const conf::AcmeChallenge usable : usable_challenges_) {
        const auto offered = std::find_if(authorization.challenges.begin(), authorization.challenges.end(),
                                          [&](const Challenge& c) { return c.type == challenge_name(usable); });
        if (offered != authorization.challenges.end()) {
            chosen = &*offered;
            type = usable;
            break;
        }
    }
    if (chosen == nullptr) {
        std::string offered;
        for (const Challenge& c : authorization.challenges) offered += (offered.empty() ? "" : ", ") + c.type;
        throw Error("the CA offers no challenge for " + name + " that a listener can answer (it offers " + offered + ")");
    }
    const std::string challenge_url = chosen->url;
    const ChallengeOffer offer(publisher_, type, name, chosen->token, key_authorization(chosen->token, *account_key_));
    co_await session.respond(challenge_url);
    PollWait wait;
    for (;;) {
        authorization = co_await session.authorization(url);
        if (authorization.status != Status::pending) break;
        deadline.check(name, "the CA had not checked the " + challenge_name(type) + " challenge");
        co_await pause(retry_after(session.last_retry_after(), Clock::now(), wait.next(), poll_cap));
    }
    if (authorization.status == Status::valid) co_return;
    std::string why = "no reason given";
    for (const Challenge& c : authorization.challenges) {
        if (c.url == challenge_url && c.error) why = describe(*c.error);
    }
    throw Error("the CA could not validate " + name + " by " + challenge_name(type) + ": " + why);
}

void CertificateManager::store_and_serve(Entry& entry, const std::string& chain, const EcKey& key) {
    const std::string key_pem = key.private_pem();
    if (std::string problem = check_pair(entry.wanted, chain, key_pem); !problem.empty()) {
        throw Error("the chain the CA sent for " + entry.name + " is not usable: " + problem);
    }
    std::string problem;
    std::optional<CertificateFacts> facts = read_certificate_facts(chain, problem);
    if (!facts) throw Error("the chain the CA sent for " + entry.name + " is not usable: " + problem);
    // The key first: a crash between the two leaves a pair that does not fit, which the next
    // start finds (and orders anew), never a chain served with the wrong key.
    const fs::path directory = certificate_directory(entry.name);
    std::error_code error;
    fs::create_directories(directory, error);
    if (error) throw Error("cannot create " + directory.string() + ": " + error.message());
    fs::permissions(directory.parent_path(), fs::perms::owner_all, error);
    fs::permissions(directory, fs::perms::owner_all, error);
    write_private_file(directory / "key.pem", key_pem);
    write_private_file(directory / "chain.pem", chain);
    serve(entry, chain, key_pem);
    entry.certificate = std::move(facts);
}

std::string CertificateManager::check_pair(const Wanted& wanted, const std::string& chain, const std::string& key) {
    for (const std::string& name : wanted.names) {
        if (std::string problem = check_certificate_pair(chain, key, name); !problem.empty()) return problem;
    }
    return {};
}

void CertificateManager::serve(const Entry& entry, const std::string& chain, const std::string& key) {
    for (const std::string& name : entry.wanted.names) publisher_.serve_certificate(name, chain, key);
    if (entry.wanted.passthrough && files_changed_) {
        const fs::path directory = certificate_directory(entry.name);
        files_changed_(entry.wanted.site, {{(directory / "chain.pem").string(), (directory / "key.pem").string()}});
    }
}

std::vector<CertificateStatus> CertificateManager::status() const {
    std::vector<CertificateStatus> all;
    all.reserve(entries_.size());
    for (const auto& [name, entry] : entries_) {
        all.push_back({entry->name, entry->wanted.site, entry->certificate, entry->attempting, entry->due, entry->window,
                       entry->last_attempt, entry->last_error, entry->failures});
    }
    return all;
}

}  // namespace vhostd::acme
