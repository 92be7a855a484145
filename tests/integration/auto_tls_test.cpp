// tls = "auto" against Debian's pebble on loopback, as a new user would try it: vhostd
// obtains a certificate by HTTP-01 or TLS-ALPN-01 (answered by its own front), serves it to
// curl that trusts only pebble's root, keeps it across a restart without a new order, renews
// short-lived ones while a client keeps asking, and keeps serving while pebble is away.
#include "support/configs.hpp"
#include "support/http_client.hpp"
#include "support/pebble.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"
#include "support/tls_client.hpp"
#include "support/vhostd_process.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace vhostd::test {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

class AutoTls : public ::testing::Test {
protected:
    TempDir dir;
    TestPki pki{dir.path()};
    std::uint16_t plain_port = free_port();
    std::uint16_t tls_port = free_port();
    std::uint16_t admin_port = free_port();
    std::unique_ptr<Pebble> pebble;
    std::unique_ptr<VhostdProcess> vhostd;

    void start_pebble(PebbleOptions options = {}) {
        options.http_port = plain_port;
        options.tls_port = tls_port;
        pebble = std::make_unique<Pebble>(dir, pki, options);
        ASSERT_TRUE(pebble->start()) << pebble->log();
    }

    // A config with one auto site (hello-worker) for `hosts`, and `acme` more [acme] lines.
    std::string config(const std::string& hosts, const std::string& acme, const std::string& site_extra = "") const {
        return config_for(pebble->directory_url(), hosts, acme, site_extra);
    }
    // The same with another ACME directory.
    std::string config_for(const std::string& directory, const std::string& hosts, const std::string& acme,
                           const std::string& site_extra = "") const {
        return listen_on(plain_port) + "[[listen]]\naddress = \"127.0.0.1:" + std::to_string(tls_port) + "\"\ntls = true\n\n" +
               "[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin_port) + "\"\n\n" + "[acme]\ndirectory = \"" +
               directory + "\"\nca_bundle = \"" + pki.ca() + "\"\nstate_dir = \"" + (dir.path() / "acme").string() +
               "\"\nemail = \"ops@example.test\"\nretry_initial = \"1s\"\n" + acme + "\n" +
               hello_site("shop", hosts, 1, "tls = \"auto\"\n" + site_extra);
    }

    std::string root_file() const {
        const auto path = dir.write("pebble-root.pem", pebble->root_pem());
        return path.string();
    }

    // curl over https to HOST on the tls listener, trusting only pebble's root: "CODE" or curl's error.
    std::string https_status(const std::string& host, const std::string& root, const std::string& path = "/") const {
        const auto [exit_status, output] = run_command({"/usr/bin/curl", "-sS", "--max-time", "10", "--cacert", root, "--resolve",
                                                        host + ":" + std::to_string(tls_port) + ":127.0.0.1", "-o", "/dev/null", "-w",
                                                        "%{http_code}", "https://" + host + ":" + std::to_string(tls_port) + path});
        return output;
    }

    // The serial of the certificate served for `host`, from openssl s_client.
    std::string served_serial(const std::string& host) const {
        const auto [status, output] = run_command(
            {"/bin/sh", "-c", "openssl s_client -connect 127.0.0.1:" + std::to_string(tls_port) + " -servername " + host +
                                  " </dev/null 2>/dev/null | openssl x509 -noout -serial"});
        return status == 0 ? output : std::string();
    }

    boost::json::object status() const {
        const Exchange answer = get(admin_port, "127.0.0.1", "/status");
        return boost::json::parse(answer.body()).as_object();
    }

    // The /status entry for `name`.
    boost::json::object certificate(const std::string& name) const {
        const boost::json::object all = status();
        for (const auto& entry : all.at("certificates").as_array()) {
            if (entry.at("name").as_string() == name) return entry.as_object();
        }
        return {};
    }
};

TEST_F(AutoTls, Http01CertificateIsServedAndPlainHttpRedirects) {
    ASSERT_NO_FATAL_FAILURE(start_pebble());
    vhostd = std::make_unique<VhostdProcess>(dir, config("[\"shop.test\", \"www.shop.test\"]", "challenges = [\"http-01\"]"));
    ASSERT_TRUE(vhostd->wait_for_log("obtained the certificate for shop.test", 60s)) << vhostd->log() << pebble->log();
    ASSERT_TRUE(vhostd->wait_for_log("obtained the certificate for www.shop.test", 60s)) << vhostd->log();
    EXPECT_TRUE(vhostd->wait_for_log("the ACME HTTP-01 challenge for 'shop.test'"));
    const std::string root = root_file();
    EXPECT_EQ(https_status("shop.test", root), "200");
    EXPECT_EQ(https_status("www.shop.test", root), "200");

    // Plain HTTP goes to https by default; a challenge path vhostd does not know goes to the site.
    const Exchange redirect = get(plain_port, "shop.test", "/cart?x=1");
    EXPECT_EQ(redirect.status(), 308);
    EXPECT_TRUE(contains(redirect.response, "Location: https://shop.test:" + std::to_string(tls_port) + "/cart?x=1")) << redirect.response;
    EXPECT_EQ(get(plain_port, "shop.test", "/.well-known/acme-challenge/unknown-token-0123456789").status(), 200);

    const boost::json::object entry = certificate("shop.test");
    ASSERT_FALSE(entry.empty()) << boost::json::serialize(status());
    EXPECT_EQ(entry.at("state").as_string(), "valid");
    EXPECT_EQ(entry.at("site").as_string(), "shop");
    EXPECT_TRUE(entry.at("last_error").is_null());
    EXPECT_GT(entry.at("certificate").at("expires_in_seconds").as_double(), 86400.0);
    const std::string metrics = get(admin_port, "127.0.0.1", "/metrics").body();
    EXPECT_TRUE(contains(metrics, "vhostd_certificate_expiry_seconds{name=\"shop.test\",site=\"shop\"}")) << metrics;
    EXPECT_TRUE(contains(metrics, "vhostd_acme_certificates_total{kind=\"issue\",outcome=\"success\"} 2")) << metrics;

    // The state directory holds the files with mode 0600, and the log never a key.
    const auto key = dir.path() / "acme" / "certificates" / "shop.test" / "key.pem";
    EXPECT_EQ(std::filesystem::status(key).permissions(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    EXPECT_FALSE(contains(vhostd->log(), "PRIVATE KEY"));
}

TEST_F(AutoTls, TlsAlpn01CertificateIsServed) {
    ASSERT_NO_FATAL_FAILURE(start_pebble());
    vhostd = std::make_unique<VhostdProcess>(dir, config("[\"alpn.test\"]", "challenges = [\"tls-alpn-01\"]"));
    ASSERT_TRUE(vhostd->wait_for_log("obtained the certificate for alpn.test", 60s)) << vhostd->log() << pebble->log();
    EXPECT_TRUE(vhostd->wait_for_log("answered the ACME TLS-ALPN-01 challenge for 'alpn.test'"));
    EXPECT_EQ(https_status("alpn.test", root_file()), "200");
}

TEST_F(AutoTls, PassthroughSiteGetsOneCertificateForItsHostsAndItsWorkersRoll) {
    ASSERT_NO_FATAL_FAILURE(start_pebble());
    const std::string text = config("[\"pass.test\", \"www.pass.test\"]", "challenges = [\"tls-alpn-01\"]", "tls_mode = \"passthrough\"\n");
    vhostd = std::make_unique<VhostdProcess>(dir, text);
    ASSERT_TRUE(vhostd->wait_for_log("obtained the certificate for pass.test", 60s)) << vhostd->log() << pebble->log();
    // Validated by the front for both names, though the site's connections go to its workers.
    EXPECT_TRUE(vhostd->wait_for_log("answered the ACME TLS-ALPN-01 challenge for 'www.pass.test'"));
    ASSERT_TRUE(vhostd->wait_for_log("rolling its workers to load it")) << vhostd->log();
    const std::string root = root_file();
    EXPECT_TRUE(wait_until([&] { return https_status("pass.test", root) == "200"; }, 10s)) << https_status("pass.test", root);
    EXPECT_EQ(https_status("www.pass.test", root), "200");
    const boost::json::object entry = certificate("pass.test");
    ASSERT_FALSE(entry.empty());
    EXPECT_EQ(entry.at("certificate").at("names").as_array().size(), 2u) << boost::json::serialize(entry);

    // A restart gives the first workers the stored files: nothing to roll, nothing ordered.
    const std::size_t orders = pebble->orders();
    vhostd.reset();
    vhostd = std::make_unique<VhostdProcess>(dir, text);
    ASSERT_TRUE(vhostd->wait_for_log("hello-worker for site shop ready")) << vhostd->log();
    EXPECT_TRUE(wait_until([&] { return https_status("pass.test", root) == "200"; }, 10s)) << vhostd->log();
    EXPECT_EQ(vhostd->count_in_log("rolling its workers to load it"), 0u);
    EXPECT_EQ(pebble->orders(), orders);
}

TEST_F(AutoTls, RestartReusesTheStoredCertificateWithoutANewOrder) {
    ASSERT_NO_FATAL_FAILURE(start_pebble());
    const std::string text = config("[\"keep.test\"]", "");
    vhostd = std::make_unique<VhostdProcess>(dir, text);
    ASSERT_TRUE(vhostd->wait_for_log("obtained the certificate for keep.test", 60s)) << vhostd->log();
    const std::string serial = served_serial("keep.test");
    ASSERT_FALSE(serial.empty());
    const std::size_t orders = pebble->orders();
    EXPECT_EQ(orders, 1u) << pebble->log();
    vhostd.reset();

    vhostd = std::make_unique<VhostdProcess>(dir, text);
    ASSERT_TRUE(vhostd->wait_for_log("serving the stored certificate for keep.test")) << vhostd->log();
    EXPECT_EQ(https_status("keep.test", root_file()), "200");
    EXPECT_EQ(served_serial("keep.test"), serial);
    EXPECT_EQ(pebble->orders(), orders) << "a restart placed an order";
}

TEST_F(AutoTls, ShortLivedCertificatesRenewWhileClientsKeepAsking) {
    ASSERT_NO_FATAL_FAILURE(start_pebble({.validity_seconds = 12}));
    vhostd = std::make_unique<VhostdProcess>(dir, config("[\"renew.test\"]", "renew_percent_left = 50"));
    ASSERT_TRUE(vhostd->wait_for_log("obtained the certificate for renew.test", 60s)) << vhostd->log();
    const std::string root = root_file();
    const std::string first = served_serial("renew.test");
    int requests = 0, failures = 0;
    const auto until = std::chrono::steady_clock::now() + 40s;
    while (vhostd->count_in_log("renewed the certificate for renew.test") < 2 && std::chrono::steady_clock::now() < until) {
        ++requests;
        if (const std::string code = https_status("renew.test", root); code != "200") {
            ++failures;
            ADD_FAILURE() << "request " << requests << ": " << code;
        }
    }
    EXPECT_GE(vhostd->count_in_log("renewed the certificate for renew.test"), 2u) << vhostd->log();
    EXPECT_EQ(failures, 0) << "of " << requests;
    EXPECT_GT(requests, 10);
    EXPECT_NE(served_serial("renew.test"), first);
}

TEST_F(AutoTls, PebbleAwayKeepsTheCertificateAndBacksOffThenRenews) {
    ASSERT_NO_FATAL_FAILURE(start_pebble({.validity_seconds = 20}));
    vhostd = std::make_unique<VhostdProcess>(dir, config("[\"away.test\"]", "renew_percent_left = 75"));
    ASSERT_TRUE(vhostd->wait_for_log("obtained the certificate for away.test", 60s)) << vhostd->log();
    const std::string root = root_file();
    pebble->stop();
    // Renewal from about 5 s in; retries after 1 s, 2 s, 4 s...
    ASSERT_TRUE(vhostd->wait_for_log("renewing the certificate for away.test failed (2 in a row)", 30s)) << vhostd->log();
    EXPECT_EQ(https_status("away.test", root), "200") << "the current certificate stays while renewal fails";
    const boost::json::object entry = certificate("away.test");
    EXPECT_EQ(entry.at("state").as_string(), "retrying");
    EXPECT_TRUE(contains(std::string(entry.at("last_error").as_string()), "localhost:")) << boost::json::serialize(entry);
    const auto [ctl_status, table] = run_command({vhostctl_binary, "--admin", "127.0.0.1:" + std::to_string(admin_port), "certs"});
    EXPECT_EQ(ctl_status, 0) << table;
    EXPECT_TRUE(contains(table, "away.test")) << table;
    EXPECT_TRUE(contains(table, "retrying")) << table;

    ASSERT_TRUE(pebble->start());
    ASSERT_TRUE(vhostd->wait_for_log("renewed the certificate for away.test", 40s)) << vhostd->log();
    EXPECT_EQ(certificate("away.test").at("state").as_string(), "valid");
    EXPECT_EQ(https_status("away.test", root_file()), "200") << "served by the new pebble's chain";
}

TEST_F(AutoTls, ADirectoryThatIsNotJsonIsAClearErrorAndNoCrash) {
    ASSERT_NO_FATAL_FAILURE(start_pebble());
    vhostd = std::make_unique<VhostdProcess>(dir, config_for(pebble->not_a_directory_url(), "[\"bad.test\"]", ""));
    ASSERT_TRUE(vhostd->wait_for_log("obtaining the certificate for bad.test failed (1 in a row): reading the directory:", 20s))
        << vhostd->log();
    EXPECT_EQ(get(admin_port, "127.0.0.1", "/status").status(), 200) << "vhostd is still there";
    EXPECT_EQ(certificate("bad.test").at("state").as_string(), "retrying");
}

TEST_F(AutoTls, ADirectoryThatIsAnErrorPageIsAClearError) {
    ASSERT_NO_FATAL_FAILURE(start_pebble());
    std::string missing = pebble->not_a_directory_url();
    missing.replace(missing.find("/roots/0"), 8, "/no-such-directory");
    vhostd = std::make_unique<VhostdProcess>(dir, config_for(missing, "[\"gone.test\"]", ""));
    ASSERT_TRUE(vhostd->wait_for_log("obtaining the certificate for gone.test failed (1 in a row): the ACME directory", 20s)) << vhostd->log();
    EXPECT_TRUE(vhostd->wait_for_log("answered HTTP 404")) << vhostd->log();
}

TEST_F(AutoTls, AChallengeTheCaCannotValidateIsAClearErrorAndRetried) {
    // pebble checks HTTP-01 on a port where nothing listens: the authorization turns invalid.
    pebble = std::make_unique<Pebble>(dir, pki, PebbleOptions{.http_port = free_port(), .tls_port = tls_port, .nonce_reject_percent = 5,
                                                              .validity_seconds = 0});
    ASSERT_TRUE(pebble->start());
    vhostd = std::make_unique<VhostdProcess>(dir, config("[\"unreachable.test\"]", "challenges = [\"http-01\"]"));
    ASSERT_TRUE(vhostd->wait_for_log("the CA could not validate unreachable.test by http-01: urn:ietf:params:acme:error:connection", 60s))
        << vhostd->log();
    ASSERT_TRUE(vhostd->wait_for_log("failed (2 in a row)", 30s)) << "retried after retry_initial: " << vhostd->log();
    EXPECT_EQ(certificate("unreachable.test").at("failures").as_int64() >= 2, true);
}

// A CA that answers what pebble cannot be made to: tests/integration/workers/acme_proxy.py
// in front of pebble, in one of its modes (renewal information, orders that stay pending,
// a 500 page).
class MisbehavingCa : public AutoTls {
protected:
    std::uint16_t proxy_port = free_port();
    std::unique_ptr<BackgroundProcess> proxy;

    void start_proxy(const std::string& mode) {
        ASSERT_NO_FATAL_FAILURE(start_pebble());
        const TestPki::Issued issued = pki.issue("acme-proxy", {"localhost"});
        proxy = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{"/usr/bin/python3", acme_proxy_script, std::to_string(proxy_port), issued.cert, issued.key, pki.ca(),
                                     std::to_string(pebble->port()), mode},
            (dir.path() / "proxy.log").string());
        ASSERT_TRUE(wait_until([&] {
            return run_command({"/usr/bin/curl", "-sS", "--max-time", "5", "--cacert", pki.ca(), "-o", "/dev/null", "-w", "%{http_code}",
                                directory()})
                       .second == "200";
        })) << proxy_lines();
    }
    std::string directory() const { return "https://localhost:" + std::to_string(proxy_port) + "/dir"; }
    std::string proxy_lines() const {
        std::ifstream in(dir.path() / "proxy.log");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    // The words after `prefix` on each of the proxy's lines that start with it, in order.
    std::vector<std::string> proxy_said(const std::string& prefix) const {
        std::vector<std::string> found;
        std::istringstream lines(proxy_lines());
        for (std::string line; std::getline(lines, line);) {
            if (line.starts_with(prefix)) found.push_back(line.substr(prefix.size()));
        }
        return found;
    }
};

TEST_F(MisbehavingCa, RenewsInTheWindowTheCaSuggestsAndNamesWhatItReplaces) {
    ASSERT_NO_FATAL_FAILURE(start_proxy("ari"));
    vhostd = std::make_unique<VhostdProcess>(dir, config_for(directory(), "[\"ari.test\"]", ""));
    ASSERT_TRUE(vhostd->wait_for_log("obtained the certificate for ari.test", 60s)) << vhostd->log() << proxy_lines();
    // The certificate lasts years, but the CA's window for it starts now.
    ASSERT_TRUE(vhostd->wait_for_log("suggests renewing the certificate for ari.test between", 20s)) << vhostd->log() << proxy_lines();
    ASSERT_TRUE(vhostd->wait_for_log("renewed the certificate for ari.test", 60s)) << vhostd->log() << proxy_lines();

    const std::vector<std::string> issued = proxy_said("issued ");
    ASSERT_EQ(issued.size(), 2u) << proxy_lines();
    const std::vector<std::string> asked = proxy_said("renewal-info ");
    ASSERT_FALSE(asked.empty()) << proxy_lines();
    EXPECT_EQ(asked.front(), issued.front()) << "the CertID is the one openssl computes from the leaf";
    EXPECT_EQ(proxy_said("new-order "), (std::vector<std::string>{"replaces=-", "replaces=" + issued.front()}));
    EXPECT_EQ(pebble->orders(), 2u);

    // The new certificate's window is a month ahead: the renewal is scheduled in it.
    ASSERT_TRUE(wait_until([&] { return proxy_said("renewal-info ").back() == issued.back(); }, 20s)) << proxy_lines();
    ASSERT_TRUE(wait_until([&] { return certificate("ari.test").at("renewal_window").is_object(); }, 10s)) << boost::json::serialize(status());
    const boost::json::object entry = certificate("ari.test");
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const double start = entry.at("renewal_window").at("start").as_double();
    EXPECT_GT(start, now + 29 * 86400.0) << boost::json::serialize(entry);
    EXPECT_GE(entry.at("next_attempt").as_double(), start);
    EXPECT_LE(entry.at("next_attempt").as_double(), entry.at("renewal_window").at("end").as_double());
    EXPECT_EQ(entry.at("renewal_window").at("explanation_url").as_string(), "https://ca.test/why");
    EXPECT_EQ(https_status("ari.test", root_file()), "200");
}

TEST_F(MisbehavingCa, AnOrderThatNeverBecomesReadyGivesUpAtOrderTimeout) {
    ASSERT_NO_FATAL_FAILURE(start_proxy("never-ready"));
    vhostd = std::make_unique<VhostdProcess>(dir, config_for(directory(), "[\"never.test\"]", "order_timeout = \"3s\""));
    ASSERT_TRUE(vhostd->wait_for_log("gave up on never.test after order_timeout (3 s): the order was still pending", 30s))
        << vhostd->log() << proxy_lines();
    ASSERT_TRUE(vhostd->wait_for_log("obtaining the certificate for never.test failed (2 in a row)", 30s)) << vhostd->log();
    EXPECT_EQ(certificate("never.test").at("state").as_string(), "retrying");
    EXPECT_EQ(get(plain_port, "never.test", "/").status(), 308) << "the site is still served";
}

TEST_F(MisbehavingCa, AServerErrorPageIsAClearErrorAndRetried) {
    ASSERT_NO_FATAL_FAILURE(start_proxy("error-500"));
    vhostd = std::make_unique<VhostdProcess>(dir, config_for(directory(), "[\"broken.test\"]", ""));
    ASSERT_TRUE(vhostd->wait_for_log("obtaining the certificate for broken.test failed (1 in a row): newOrder: HTTP 500 without a problem document", 30s))
        << vhostd->log() << proxy_lines();
    ASSERT_TRUE(vhostd->wait_for_log("obtaining the certificate for broken.test failed (2 in a row)", 30s)) << vhostd->log();
    const boost::json::object entry = certificate("broken.test");
    EXPECT_EQ(entry.at("state").as_string(), "retrying");
    EXPECT_TRUE(contains(std::string(entry.at("last_error").as_string()), "HTTP 500")) << boost::json::serialize(entry);
    EXPECT_EQ(get(plain_port, "broken.test", "/").status(), 308) << "the site is still served";
    EXPECT_EQ(pebble->orders(), 0u);
}

class OnDemandTls : public AutoTls {
protected:
    std::uint16_t ask_port = free_port();
    std::unique_ptr<BackgroundProcess> ask;

    // An ask endpoint that allows names ending in "-ok.panel.test".
    void start_ask_endpoint() {
        ask = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{"/usr/bin/python3", ask_endpoint_script, std::to_string(ask_port), "-ok.panel.test"},
            (dir.path() / "ask.log").string());
        ASSERT_TRUE(wait_until([&] { return try_get(ask_port, "127.0.0.1", "/allowed?domain=x").has_value(); }));
    }
    std::string asked() const {
        std::ifstream in(dir.path() / "ask.log");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    std::string panel_config(const std::string& acme = "") const {
        return config("[\"*.panel.test\"]", acme, "on_demand = { ask = \"http://127.0.0.1:" + std::to_string(ask_port) + "/allowed\" }\n");
    }
};

TEST_F(OnDemandTls, AnAllowedNameGetsItsCertificateAtItsFirstHandshake) {
    ASSERT_NO_FATAL_FAILURE(start_pebble());
    ASSERT_NO_FATAL_FAILURE(start_ask_endpoint());
    vhostd = std::make_unique<VhostdProcess>(dir, panel_config());
    ASSERT_TRUE(vhostd->wait_for_log("hello-worker for site shop ready")) << vhostd->log();
    const std::string root = root_file();
    EXPECT_EQ(https_status("alice-ok.panel.test", root), "200") << vhostd->log();
    EXPECT_EQ(pebble->orders(), 1u);
    EXPECT_TRUE(vhostd->wait_for_log("obtained the certificate for alice-ok.panel.test"));
    EXPECT_EQ(https_status("alice-ok.panel.test", root), "200");

    // Refused by the endpoint: the handshake fails and the CA hears nothing.
    EXPECT_NE(https_status("mallory.panel.test", root), "200");
    EXPECT_TRUE(vhostd->wait_for_log("mallory.panel.test is not allowed for site shop")) << vhostd->log();
    // A name no site matches, and an address, are never asked about.
    EXPECT_NE(https_status("other.test", root), "200");
    const auto [status, output] = run_command({"/usr/bin/curl", "-sS", "-k", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                                               "https://127.0.0.1:" + std::to_string(tls_port) + "/"});
    EXPECT_NE(output, "200");
    EXPECT_EQ(pebble->orders(), 1u) << pebble->log();
    const std::string questions = asked();
    EXPECT_TRUE(contains(questions, "asked alice-ok.panel.test 200")) << questions;
    EXPECT_TRUE(contains(questions, "asked mallory.panel.test 403")) << questions;
    EXPECT_FALSE(contains(questions, "other.test")) << questions;
    EXPECT_FALSE(contains(questions, "127.0.0.1")) << questions;

    // Stored like any other: a restart serves it without asking the CA again.
    vhostd.reset();
    vhostd = std::make_unique<VhostdProcess>(dir, panel_config());
    ASSERT_TRUE(vhostd->wait_for_log("hello-worker for site shop ready")) << vhostd->log();
    EXPECT_EQ(https_status("alice-ok.panel.test", root), "200") << vhostd->log();
    EXPECT_EQ(pebble->orders(), 1u);
}

TEST_F(OnDemandTls, ABurstOfNewNamesPlacesAtMostTheRateLimitsOrders) {
    ASSERT_NO_FATAL_FAILURE(start_pebble());
    ASSERT_NO_FATAL_FAILURE(start_ask_endpoint());
    vhostd = std::make_unique<VhostdProcess>(dir, panel_config("on_demand_per_minute = 3"));
    ASSERT_TRUE(vhostd->wait_for_log("hello-worker for site shop ready")) << vhostd->log();
    const std::string root = root_file();
    int served = 0;
    for (int i = 0; i < 1000; ++i) {
        try {
            TlsClient client(tls_port, "n" + std::to_string(i) + "-ok.panel.test", root);
            ++served;
        } catch (const std::exception&) {
        }
    }
    EXPECT_EQ(served, 3) << vhostd->log();
    EXPECT_EQ(pebble->orders(), 3u);
    EXPECT_GE(vhostd->count_in_log("([acme] on_demand_per_minute); the handshake fails"), 990u);
    EXPECT_EQ(get(admin_port, "127.0.0.1", "/healthz").status(), 200);
}

}  // namespace
}  // namespace vhostd::test
