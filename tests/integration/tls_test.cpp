// Scenario: sites served over HTTPS from one TLS listener, each with its own certificate
// chosen by SNI, checked with real clients (curl, openssl s_client, an OpenSSL client) and
// a CA made at test time.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/test_pki.hpp"
#include "tests/integration/support/tls_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <fstream>
#include <memory>
#include <set>
#include <thread>

using namespace vhostd::test;
namespace json = boost::json;

namespace {

std::string listen_tls_on(std::uint16_t port) {
    return "[[listen]]\naddress = \"127.0.0.1:" + std::to_string(port) + "\"\ntls = true\n\n";
}

std::string tls_of(const TestPki::Issued& issued) {
    return "tls = { cert = \"" + issued.cert + "\", key = \"" + issued.key + "\" }\n";
}

// curl to https://HOST:PORT/PATH resolved to 127.0.0.1, trusting only the test CA; returns
// the body followed by "\nSTATUS".
std::string curl(std::uint16_t port, const std::string& host, const TestPki& pki, std::vector<std::string> extra = {},
                 const std::string& path = "/") {
    const std::string authority = host + ":" + std::to_string(port);
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "10", "--cacert", pki.ca(), "--resolve", authority + ":127.0.0.1",
                                  "-w", "\n%{http_code}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://" + authority + path);
    return run_command(argv).second;
}

// What `openssl s_client` reports for a handshake with SNI `server_name` (none if empty).
std::string s_client(std::uint16_t port, const std::string& server_name, const TestPki& pki) {
    std::vector<std::string> argv{"/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile", pki.ca()};
    if (server_name.empty()) {
        argv.push_back("-noservername");
    } else {
        argv.insert(argv.end(), {"-servername", server_name, "-verify_hostname", server_name});
    }
    return run_command(argv).second;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::uint64_t front_counter(std::uint16_t admin_port, const char* name) {
    const Exchange answer = round_trip(admin_port, "GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    return json::parse(answer.body()).at("front").at(name).to_number<std::uint64_t>();
}

std::string admin_on(std::uint16_t port) { return "[admin]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n\n"; }

// The bytes of a real ClientHello for `server_name`, made by an OpenSSL client without a socket.
std::string client_hello(const std::string& server_name) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context.get()), &SSL_free);
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl.get(), BIO_new(BIO_s_mem()), out);
    SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());
    SSL_connect(ssl.get());  // wants to read the server's answer; the ClientHello is written
    char* data = nullptr;
    const long length = BIO_get_mem_data(out, &data);
    return std::string(data, static_cast<std::size_t>(length));
}

class Tls : public ::testing::Test {
protected:
    TempDir dir;
    TestPki pki{dir.path()};
    std::uint16_t plain_port = free_port();
    std::uint16_t tls_port = free_port();
};

TEST_F(Tls, EachSiteGetsItsOwnCertificateBySni) {
    const auto a = pki.issue("a", {"a.test"}, "site a");
    const auto b = pki.issue("b", {"b.test"}, "site b", TestPki::KeyType::rsa);
    VhostdProcess vhostd(dir, listen_on(plain_port) + listen_tls_on(tls_port) + test_site("a", R"(["a.test"])", "", tls_of(a)) +
                                  test_site("b", R"(["b.test"])", "", tls_of(b)));
    ASSERT_TRUE(vhostd.wait_for_log("listening on 127.0.0.1:" + std::to_string(tls_port) + " (TLS)")) << vhostd.log();

    const std::string to_a = s_client(tls_port, "a.test", pki);
    EXPECT_TRUE(contains(to_a, "O = site a")) << to_a;
    EXPECT_TRUE(contains(to_a, "Verify return code: 0 (ok)")) << to_a;
    const std::string to_b = s_client(tls_port, "b.test", pki);
    EXPECT_TRUE(contains(to_b, "O = site b")) << to_b;
    EXPECT_TRUE(contains(to_b, "Verify return code: 0 (ok)")) << to_b;

    // The worker reads plain HTTP and learns how the client connected.
    const std::string answer = curl(tls_port, "a.test", pki);
    EXPECT_TRUE(contains(answer, "test-worker a ")) << answer;
    EXPECT_TRUE(contains(answer, "tls terminate a.test http/1.1 TLSv1.3 TLS_")) << answer;
    EXPECT_TRUE(answer.ends_with("\n200")) << answer;
    EXPECT_TRUE(contains(curl(tls_port, "b.test", pki, {"--tls-max", "1.2"}), "tls terminate b.test http/1.1 TLSv1.2 ECDHE-RSA-"));

    // Neither TLS 1.1 nor a TLS 1.2 suite without forward secrecy is accepted.
    const std::string base = "127.0.0.1:" + std::to_string(tls_port);
    const std::string old_version = run_command({"/usr/bin/openssl", "s_client", "-connect", base, "-servername", "a.test", "-tls1_1",
                                                 "-cipher", "DEFAULT@SECLEVEL=0"}).second;
    EXPECT_TRUE(contains(old_version, "alert protocol version")) << old_version;
    const std::string static_rsa = run_command({"/usr/bin/openssl", "s_client", "-connect", base, "-servername", "b.test", "-tls1_2",
                                                "-cipher", "AES128-SHA"}).second;
    EXPECT_TRUE(contains(static_rsa, "alert handshake failure")) << static_rsa;
}

TEST_F(Tls, RsaAndEcdsaCertificatesServeOneSite) {
    const auto ecdsa = pki.issue("ec", {"both.test"}, "ecdsa");
    const auto rsa = pki.issue("rsa", {"both.test"}, "rsa", TestPki::KeyType::rsa);
    const std::string certs = "tls = [{ cert = \"" + ecdsa.cert + "\", key = \"" + ecdsa.key + "\" }, { cert = \"" + rsa.cert +
                              "\", key = \"" + rsa.key + "\" }]\n";
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) + test_site("both", R"(["both.test"])", "", certs));
    ASSERT_TRUE(vhostd.wait_for_log("(TLS)")) << vhostd.log();
    EXPECT_TRUE(contains(curl(tls_port, "both.test", pki, {"--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"}), "\n200"));
    EXPECT_TRUE(contains(curl(tls_port, "both.test", pki, {"--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"}), "\n200"));
}

TEST_F(Tls, WildcardCertificateServesWildcardHosts) {
    const auto wild = pki.issue("wild", {"*.wild.test"}, "wildcard");
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) + test_site("wild", R"(["*.wild.test"])", "", tls_of(wild)));
    ASSERT_TRUE(vhostd.wait_for_log("(TLS)")) << vhostd.log();
    for (const std::string host : {"one.wild.test", "two.wild.test"}) {
        const std::string answer = curl(tls_port, host, pki);
        EXPECT_TRUE(contains(answer, "tls terminate " + host + " ")) << answer;
        EXPECT_TRUE(answer.ends_with("\n200")) << answer;
    }
}

TEST_F(Tls, UnknownOrMissingNameGetsTheDefaultSiteCertificate) {
    const auto main_site = pki.issue("main", {"main.test"}, "default site");
    const auto other = pki.issue("other", {"other.test"}, "other site");
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) + test_site("main", R"(["main.test"])", "", tls_of(main_site) + "default = true\n") +
                                  test_site("other", R"(["other.test"])", "", tls_of(other)));
    ASSERT_TRUE(vhostd.wait_for_log("(TLS)")) << vhostd.log();
    EXPECT_TRUE(contains(s_client(tls_port, "unknown.test", pki), "O = default site"));
    EXPECT_TRUE(contains(s_client(tls_port, "", pki), "O = default site"));

    // Without SNI (curl sends none for an IP address) the default site's certificate
    // answers, so only the default site's pages may be served on that connection.
    auto without_sni = [&](const std::string& host) {
        return run_command({"/usr/bin/curl", "-sS", "-k", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                            "Host: " + host, "https://127.0.0.1:" + std::to_string(tls_port) + "/"})
            .second;
    };
    EXPECT_EQ(without_sni("main.test"), "200");
    EXPECT_EQ(without_sni("other.test"), "421");
}

TEST_F(Tls, UnknownNameWithoutDefaultSiteGetsAnAlert) {
    const auto a = pki.issue("a", {"a.test"}, "site a");
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) + test_site("a", R"(["a.test"])", "", tls_of(a)));
    ASSERT_TRUE(vhostd.wait_for_log("(TLS)")) << vhostd.log();
    const std::string refused = s_client(tls_port, "unknown.test", pki);
    EXPECT_TRUE(contains(refused, "unrecognized name")) << refused;
    EXPECT_FALSE(contains(refused, "O = site a")) << refused;
}

TEST_F(Tls, HostThatDisagreesWithSniGets421) {
    const auto a = pki.issue("a", {"a.test"}, "site a");
    const auto b = pki.issue("b", {"b.test"}, "site b");
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) + test_site("a", R"(["a.test"])", "", tls_of(a)) +
                                  test_site("b", R"(["b.test"])", "", tls_of(b)));
    ASSERT_TRUE(vhostd.wait_for_log("(TLS)")) << vhostd.log();
    const std::string answer = curl(tls_port, "a.test", pki, {"-H", "Host: b.test"});
    EXPECT_TRUE(answer.ends_with("\n421")) << answer;
    EXPECT_TRUE(vhostd.wait_for_log("421, Host 'b.test' is not served under TLS name 'a.test'")) << vhostd.log();
}

TEST_F(Tls, PostBodiesKeepAliveAndWebSocketGoThroughTheRelay) {
    const auto site = pki.issue("app", {"app.test"});
    const std::uint16_t admin = free_port();
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) + admin_on(admin) + hello_site("app", R"(["app.test"])", 1, tls_of(site)));
    ASSERT_TRUE(vhostd.wait_for_log("ready after")) << vhostd.log();

    // 256 KiB of body, then two requests on one connection.
    const auto body = dir.write("body.bin", std::string(256 * 1024, 'x'));
    const std::string posted = curl(tls_port, "app.test", pki, {"--data-binary", "@" + body.string()});
    EXPECT_TRUE(contains(posted, "received 262144 bytes")) << posted;
    const std::string twice = curl(tls_port, "app.test", pki, {"-v", "https://app.test:" + std::to_string(tls_port) + "/second"});
    EXPECT_TRUE(contains(twice, "Re-using existing connection")) << twice;

    TlsClient client(tls_port, "app.test", pki.ca());
    EXPECT_TRUE(client.get("app.test").starts_with("200 hello from app")) ;
    EXPECT_TRUE(client.get("app.test", "/again").starts_with("200 hello from app"));
    EXPECT_EQ(front_counter(admin, "tls_relays"), 1u) << "the open connection is relayed by vhostd";
    EXPECT_EQ(client.websocket_echo("app.test", "over tls"), "over tls");

    TlsClient other(tls_port, "app.test", pki.ca());
    EXPECT_EQ(other.websocket_echo("app.test", std::string(100'000, 'w')), std::string(100'000, 'w'));
}

TEST_F(Tls, ASiteWithoutAWorkerAnswers503ThroughTls) {
    const auto site = pki.issue("down", {"down.test"});
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) +
                                  test_site("down", R"(["down.test"])", "--never-ready", tls_of(site) + "queue_timeout = \"200ms\"\n"));
    ASSERT_TRUE(vhostd.wait_for_log("(TLS)")) << vhostd.log();
    const std::string answer = curl(tls_port, "down.test", pki, {"-i"});
    EXPECT_TRUE(contains(answer, "Retry-After: ")) << answer;
    EXPECT_TRUE(answer.ends_with("\n503")) << answer;
}

TEST_F(Tls, PassthroughSiteIsServedByAWorkerThatTerminatesTlsItself) {
    const auto site = pki.issue("direct", {"direct.test"}, "passthrough site");
    const std::uint16_t admin = free_port();
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) + "[admin]\nlisten = \"127.0.0.1:" + std::to_string(admin) + "\"\n\n" +
                                  hello_site("direct", R"(["direct.test"])", 1, tls_of(site) + "tls_mode = \"passthrough\"\n"));
    ASSERT_TRUE(vhostd.wait_for_log("ready after")) << vhostd.log();

    EXPECT_TRUE(contains(s_client(tls_port, "direct.test", pki), "O = passthrough site"));
    const std::string answer = curl(tls_port, "direct.test", pki, {"-d", "abc"});
    EXPECT_TRUE(contains(answer, "hello from direct")) << answer;
    EXPECT_TRUE(contains(answer, "received 3 bytes")) << answer;

    TlsClient client(tls_port, "direct.test", pki.ca());
    EXPECT_TRUE(client.get("direct.test").starts_with("200 hello from direct"));
    EXPECT_EQ(front_counter(admin, "tls_relays"), 0u) << "vhostd is out of the data path";
    EXPECT_EQ(client.websocket_echo("direct.test", "end to end"), "end to end");
}

// A client resumes its TLS session (RFC 8446 section 2.2 tickets, RFC 5077 for TLS 1.2) on any
// worker of a passthrough site: they share the site's ticket key (VHOSTD_TLS_TICKET_KEY).
TEST_F(Tls, APassthroughSitesWorkersResumeEachOthersSessions) {
    const auto site = pki.issue("direct", {"direct.test"}, "passthrough site");
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) + hello_site("direct", R"(["direct.test"])", 2, tls_of(site) + "tls_mode = \"passthrough\"\n"));
    ASSERT_TRUE(vhostd.wait_for_log("worker 0 (pid")) << vhostd.log();
    ASSERT_TRUE(vhostd.wait_for_log("worker 1 (pid")) << vhostd.log();
    for (int i = 0; i < 200 && vhostd.count_in_log("ready after") < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    ASSERT_EQ(vhostd.count_in_log("ready after"), 2u) << vhostd.log();
    const std::string session = (dir.path() / "session.pem").string();
    // One request with Connection: close; -ign_eof reads on until the worker closes.
    const auto get = [&](const std::string& version, const std::string& session_option) {
        return run_command({"/bin/sh", "-c",
                            "printf 'GET / HTTP/1.1\\r\\nHost: direct.test\\r\\nConnection: close\\r\\n\\r\\n' | "
                            "/usr/bin/openssl s_client -ign_eof " + version + " -connect 127.0.0.1:" + std::to_string(tls_port) +
                                " -servername direct.test -CAfile " + pki.ca() + " " + session_option + " " + session + " 2>&1"})
            .second;
    };
    for (const std::string version : {"-tls1_3", "-tls1_2"}) {
        const std::string first = get(version, "-sess_out");
        ASSERT_TRUE(contains(first, "hello from direct")) << first;
        std::set<std::string> pids;
        for (int i = 0; i < 6; ++i) {
            const std::string answer = get(version, "-sess_in");
            EXPECT_TRUE(contains(answer, "Reused,")) << version << " connection " << i << ":\n" << answer;
            const auto pid = answer.find("(pid ");
            if (pid != std::string::npos) pids.insert(answer.substr(pid, answer.find(')', pid) - pid));
        }
        EXPECT_EQ(pids.size(), 2u) << version << ": both workers answered";
    }
}

// vhostd routes a passthrough connection by SNI and never reads its requests: the worker
// holds every one of them, the first included, to the SNI name.
TEST_F(Tls, APassthroughWorkerAnswers421ToARequestForAnotherHostThanItsSni) {
    // A certificate that covers both names, as a client that reuses connections assumes.
    const auto site = pki.issue("direct", {"direct.test", "other.test"}, "passthrough site");
    const auto other = pki.issue("other", {"other.test"});
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) +
                                  hello_site("direct", R"(["direct.test"])", 1, tls_of(site) + "tls_mode = \"passthrough\"\n") +
                                  test_site("other", R"(["other.test"])", "", tls_of(other)));
    ASSERT_TRUE(vhostd.wait_for_log("ready after")) << vhostd.log();

    TlsClient first(tls_port, "direct.test", pki.ca());
    EXPECT_TRUE(first.get("other.test").starts_with("421 ")) << "the first request is held to the SNI name";
    TlsClient later(tls_port, "direct.test", pki.ca());
    EXPECT_TRUE(later.get("Direct.Test:" + std::to_string(tls_port)).starts_with("200 hello from direct"));
    EXPECT_TRUE(later.get("other.test").starts_with("421 "));
    EXPECT_TRUE(vhostd.wait_for_log("refused a request: 421")) << vhostd.log();
}

TEST_F(Tls, AClientHelloAtAPlainPortIsClosedQuietly) {
    VhostdProcess vhostd(dir, listen_on(plain_port) + test_site("a", R"(["a.test"])", ""));
    ASSERT_TRUE(vhostd.wait_until_serving(plain_port, "a.test")) << vhostd.log();
    // The start of a ClientHello record: a plain-text 400 would be garbage to a TLS client.
    const Exchange answer = round_trip(plain_port, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(64, 'r'));
    EXPECT_EQ(answer.response, "");
    EXPECT_TRUE(answer.closed || answer.reset);
    // Plain HTTP still gets its 400.
    EXPECT_EQ(round_trip(plain_port, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n").status(), 400);
}

TEST_F(Tls, PlainHttpRedirectsToHttpsWith308) {
    const auto site = pki.issue("shop", {"shop.test"});
    VhostdProcess vhostd(dir, listen_on(plain_port) + listen_tls_on(tls_port) +
                                  test_site("shop", R"(["shop.test"])", "", tls_of(site) + "https_redirect = true\n"));
    ASSERT_TRUE(vhostd.wait_for_log("(TLS)")) << vhostd.log();
    const Exchange answer = round_trip(plain_port, "POST /cart?id=7 HTTP/1.1\r\nHost: Shop.Test\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(answer.status(), 308) << answer.response;
    EXPECT_TRUE(contains(answer.response, "\r\nLocation: https://shop.test:" + std::to_string(tls_port) + "/cart?id=7\r\n")) << answer.response;
    // Following it ends at the site over TLS.
    const std::string followed = run_command({"/usr/bin/curl", "-sS", "-L", "--max-time", "10", "--cacert", pki.ca(), "--resolve",
                                              "shop.test:" + std::to_string(tls_port) + ":127.0.0.1", "--resolve",
                                              "shop.test:" + std::to_string(plain_port) + ":127.0.0.1",
                                              "http://shop.test:" + std::to_string(plain_port) + "/"})
                                     .second;
    EXPECT_TRUE(contains(followed, "tls terminate shop.test")) << followed;
}

TEST_F(Tls, RelayedConnectionsCountAgainstTheCapPerClient) {
    const auto site = pki.issue("app", {"app.test"});
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) + "[server]\nmax_connections_per_ip = 3\n\n" +
                                  hello_site("app", R"(["app.test"])", 1, tls_of(site)));
    ASSERT_TRUE(vhostd.wait_for_log("ready after")) << vhostd.log();
    std::vector<std::unique_ptr<TlsClient>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(std::make_unique<TlsClient>(tls_port, "app.test", pki.ca()));
        EXPECT_TRUE(held.back()->get("app.test").starts_with("200 "));
    }
    EXPECT_THROW(TlsClient(tls_port, "app.test", pki.ca()), std::exception) << "a fourth is closed before its handshake";
    held.pop_back();
    ASSERT_TRUE(wait_until([&] {
        try {
            return TlsClient(tls_port, "app.test", pki.ca()).get("app.test").starts_with("200 ");
        } catch (const std::exception&) {
            return false;
        }
    })) << "a slot is free again once a relayed connection ends";
}

TEST_F(Tls, StalledHandshakesPastTheCapDropTheOldestAndOthersStillConnect) {
    const auto site = pki.issue("app", {"app.test"});
    const std::uint16_t admin = free_port();
    VhostdProcess vhostd(dir, listen_tls_on(tls_port) + "[server]\nhead_timeout = \"60s\"\nmax_tls_handshakes = 4\n\n" + admin_on(admin) +
                                  hello_site("app", R"(["app.test"])", 1, tls_of(site)));
    ASSERT_TRUE(vhostd.wait_for_log("ready after")) << vhostd.log();

    // Six clients send a ClientHello, read vhostd's flight and never finish.
    const std::string hello = client_hello("app.test");
    std::vector<std::unique_ptr<Connection>> stalled;
    for (int i = 0; i < 6; ++i) {
        stalled.push_back(std::make_unique<Connection>(tls_port));
        stalled.back()->send(hello);
        const Exchange flight = stalled.back()->read_until([](const std::string& bytes) { return !bytes.empty(); });
        ASSERT_FALSE(flight.response.empty()) << "vhostd answers ClientHello " << i;
    }
    ASSERT_TRUE(wait_until([&] { return front_counter(admin, "tls_handshakes_dropped") == 2; }));
    for (int i = 0; i < 6; ++i) {
        const Exchange rest = stalled[i]->read_all(100ms);
        EXPECT_EQ(rest.timed_out, i >= 2) << "the two oldest are closed, the others wait: " << i;
    }
    EXPECT_TRUE(vhostd.wait_for_log("closed unfinished: it was the oldest of the 4 in progress")) << vhostd.log();

    // An honest client still connects: its handshake drops the oldest stalled one.
    TlsClient client(tls_port, "app.test", pki.ca());
    EXPECT_TRUE(client.get("app.test").starts_with("200 hello from app"));
    EXPECT_EQ(front_counter(admin, "tls_handshakes_dropped"), 3u);
    EXPECT_FALSE(stalled[2]->read_all(100ms).timed_out);
    EXPECT_TRUE(stalled[3]->read_all(100ms).timed_out);
}

TEST_F(Tls, ReloadSwapsTheCertificateForNewHandshakes) {
    const auto first = pki.issue("site", {"site.test"}, "first");
    const std::string config = listen_tls_on(tls_port) + test_site("site", R"(["site.test"])", "", tls_of(first));
    VhostdProcess vhostd(dir, config);
    ASSERT_TRUE(vhostd.wait_for_log("(TLS)")) << vhostd.log();
    EXPECT_TRUE(contains(s_client(tls_port, "site.test", pki), "O = first"));

    TlsClient before(tls_port, "site.test", pki.ca());  // stays open across the reload
    pki.issue("site", {"site.test"}, "second");         // the same files, renewed
    ASSERT_TRUE(vhostd.reload(config)) << vhostd.log();
    EXPECT_TRUE(contains(s_client(tls_port, "site.test", pki), "O = second"));
    EXPECT_TRUE(before.get("site.test").starts_with("200 test-worker site")) << "open connections are kept";
}

TEST_F(Tls, BadCertificateFilesAreConfigErrors) {
    const auto a = pki.issue("a", {"a.test"});
    const auto b = pki.issue("b", {"b.test"});
    const auto not_pem = dir.write("not.pem", "hello\n");
    const auto file = dir.write("bad.toml", listen_tls_on(8443) +
                                                "[sites.a]\nhosts = [\"a.test\"]\ncommand = [\"/bin/true\"]\n"
                                                "tls = [{ cert = \"" + a.cert + "\", key = \"" + b.key + "\" },\n"
                                                "       { cert = \"" + not_pem.string() + "\", key = \"missing.key\" }]\n"
                                                "tls_mode = \"relay\"\n");
    const auto [status, output] = run_command({vhostd_binary, "--check", "-c", file.string()});
    EXPECT_EQ(status, 1) << output;
    EXPECT_TRUE(contains(output, file.string() + ":8:56: ") && contains(output, "sites.a.tls[0].key: \"" + b.key + "\" does not match the certificate"))
        << output;
    EXPECT_TRUE(contains(output, "sites.a.tls[1].cert: \"" + not_pem.string() + "\" holds no PEM certificate")) << output;
    EXPECT_TRUE(contains(output, "sites.a.tls[1].key: cannot read \"" + (dir.path() / "missing.key").string() + "\": No such file or directory"))
        << output;
    EXPECT_TRUE(contains(output, "sites.a.tls_mode: must be \"terminate\" or \"passthrough\"")) << output;
}

}  // namespace
