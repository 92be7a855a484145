// The certificates of `tls = "auto"` sites, one per host name (a passthrough site's workers
// load one chain, so theirs covers all its hosts): loaded from the state
// directory at start, obtained from the ACME server when missing, renewed at a time in the
// window the CA suggests (ACME Renewal Information, RFC 9773) or, when it offers none, when
// a third of the lifetime is left (renew_percent_left), retried with a doubling wait after a failure,
// and handed to the front (acme::Publisher) as each is ready. The certificate being served
// stays until a new one replaces it: a failure never removes it.
//
// Runs on vhostd's main loop: one coroutine per certificate, each with its own session (the
// conversation with the server is one request at a time per session).
#pragma once

#include "acme/certificate_facts.hpp"
#include "acme/ec_key.hpp"
#include "acme/messages.hpp"
#include "acme/publisher.hpp"
#include "acme/renewal.hpp"
#include "acme/state_directory.hpp"
#include "conf/config.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vhostd::acme {

class Session;

// One certificate as /status, /metrics and `vhostctl certs` show it. No key, ever.
struct CertificateStatus {
    std::string name;  // its first name (a passthrough site's one certificate covers all its hosts)
    std::string site;
    std::optional<CertificateFacts> certificate;  // the one served; nullopt: none yet
    bool attempting = false;                      // an order is under way
    Clock::time_point next_attempt;               // the renewal time, or the retry after a failure
    std::optional<RenewalInfo> renewal_window;    // the CA's suggestion (RFC 9773), when it made one
    std::optional<Clock::time_point> last_attempt;
    std::string last_error;                       // of the last attempt; empty when it succeeded
    unsigned failures = 0;                        // in a row
};

struct CertificateCounters {
    std::uint64_t issued = 0;            // first certificates for a name
    std::uint64_t issue_failures = 0;
    std::uint64_t renewed = 0;
    std::uint64_t renewal_failures = 0;
    std::uint64_t orders = 0;            // newOrder requests the server accepted
};

class CertificateManager {
public:
    CertificateManager(boost::asio::io_context& io, Publisher& publisher);
    ~CertificateManager();
    CertificateManager(const CertificateManager&) = delete;
    CertificateManager& operator=(const CertificateManager&) = delete;

    // At start and at every reload: starts managing the names that auto sites gained and
    // stops (and drops) those they lost. The first time any site needs it, takes the state
    // directory's lock and reads (or creates) the account key; throws std::runtime_error
    // when that fails or the CA bundle cannot be read. [acme] state_dir is read at start only.
    void configure(const conf::Config& config);

    // A passthrough site's workers load their chain and key from files: called with them
    // (on the main loop) once a stored certificate is served or a new one is stored.
    using FilesChanged = std::function<void(const std::string& site, std::vector<conf::Certificate> files)>;
    void on_files_changed(FilesChanged callback) { files_changed_ = std::move(callback); }

    // On-demand TLS: a handshake for `name`, which matched the on_demand `site` and has no
    // certificate. `done(true)` once one is served; `done(false)` at once when the site's
    // allow-list or ask endpoint refuses the name, when on_demand_per_minute orders were
    // placed in the last minute, or while the name backs off after a failure; or when the
    // attempt fails. Main loop.
    void obtain_on_demand(const std::string& name, const std::string& site, std::function<void(bool)> done);

    std::vector<CertificateStatus> status() const;
    const CertificateCounters& counters() const { return counters_; }

private:
    // One certificate to keep: its names, and the site they belong to.
    struct Wanted {
        std::vector<std::string> names;
        std::string site;
        bool passthrough = false;
        bool on_demand = false;  // found at a handshake, not listed
    };
    struct Entry;
    struct Deadline;

    Entry& start_managing(Wanted wanted);
    boost::asio::awaitable<void> admit_on_demand(std::string name, std::string site, conf::OnDemand policy,
                                                 std::function<void(bool)> done);
    void forget(std::map<std::string, std::shared_ptr<Entry>>::iterator entry);
    // A stored chain and key for the entry's name, served if they are fit; false otherwise.
    bool load_stored(Entry& entry);
    boost::asio::awaitable<void> keep(std::shared_ptr<Entry> entry);
    // One of max_parallel_attempts places for talking to the CA; false when the entry went
    // away while it waited. Every taken place is given back by leave_turn().
    boost::asio::awaitable<bool> take_turn(Entry& entry);
    void leave_turn();
    // Asks the CA when it wants the served certificate renewed (RFC 9773) and moves the
    // renewal into that window; on any failure the lifetime rule stays.
    boost::asio::awaitable<void> check_renewal_info(Entry& entry);
    // Reads the directory, and learns from it whether the CA offers renewal information.
    boost::asio::awaitable<void> open(Session& session);
    // The renewal time of a new certificate by its lifetime, and the renewal info asked at once.
    void schedule_renewal(Entry& entry);
    // One attempt, order to served certificate; throws on every failure.
    boost::asio::awaitable<void> attempt(Entry& entry);
    boost::asio::awaitable<void> authorize(Session& session, const std::string& url, const std::vector<std::string>& names,
                                           const Deadline& deadline);
    void store_and_serve(Entry& entry, const std::string& chain, const EcKey& key);
    // Empty when the chain is for every wanted name and fits the key.
    static std::string check_pair(const Wanted& wanted, const std::string& chain, const std::string& key);
    void serve(const Entry& entry, const std::string& chain, const std::string& key);
    std::filesystem::path certificate_directory(const std::string& name) const;

    boost::asio::io_context& io_;
    Publisher& publisher_;
    conf::AcmeSettings settings_;
    std::vector<conf::AcmeChallenge> usable_challenges_;  // settings_.challenges that a listener can answer
    std::optional<StateLock> lock_;
    std::filesystem::path state_dir_;
    std::optional<EcKey> account_key_;
    std::shared_ptr<boost::asio::ssl::context> client_tls_;  // attempts hold it across a reload
    std::map<std::string, std::shared_ptr<Entry>> entries_;
    CertificateCounters counters_;
    FilesChanged files_changed_;
    unsigned attempts_under_way_ = 0;
    std::optional<bool> ca_offers_renewal_info_;  // learned from the directory; reset when it changes
    boost::asio::steady_timer attempt_finished_;  // cancelled when one ends: the waiting look again
    std::map<std::string, conf::OnDemand> on_demand_sites_;  // by site
    struct Asked {
        bool allowed;
        std::chrono::steady_clock::time_point until;
    };
    std::map<std::string, Asked> asked_;  // the ask endpoint's answers, for a minute
    std::deque<std::chrono::steady_clock::time_point> on_demand_orders_;  // in the last minute
};

}  // namespace vhostd::acme
