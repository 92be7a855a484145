// The ACME client's session against Debian's pebble, on loopback, started by the test with
// a certificate of the test's own PKI: the directory, an account (created, then found again
// by its key), an order and its authorizations, with pebble refusing nonces at random so
// that the badNonce retry is taken. Nothing is validated or issued yet: that needs the
// challenges answered by the front.
#include "support/http_client.hpp"
#include "support/pebble.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"
#include "support/vhostd_process.hpp"

#include "acme/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>

namespace vhostd::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class AcmePebble : public ::testing::Test {
protected:
    TempDir dir;
    TestPki pki{dir.path()};
    std::unique_ptr<Pebble> pebble;

    // pebble refuses `nonce_reject_percent` % of nonces (its default is 5).
    void start_pebble(int nonce_reject_percent) {
        pebble = std::make_unique<Pebble>(dir, pki, PebbleOptions{.http_port = free_port(), .tls_port = free_port(),
                                                                  .nonce_reject_percent = nonce_reject_percent, .validity_seconds = 0});
        ASSERT_TRUE(pebble->start()) << "pebble did not listen: " << log();
    }

    std::string directory_url() const { return pebble->directory_url(); }
    std::string log() const { return pebble ? pebble->log() : std::string(); }

    // Runs `body` to its end on an io_context of its own; rethrows what it threw.
    template <class Body>
    void run(Body body) {
        asio::io_context io;
        auto done = asio::co_spawn(io, body(io.get_executor()), asio::use_future);
        io.run_for(60s);
        ASSERT_EQ(done.wait_for(0s), std::future_status::ready) << "the session did not finish";
        done.get();
    }
};

TEST_F(AcmePebble, AnAccountAndAnOrderThroughBadNonces) {
    ASSERT_NO_FATAL_FAILURE(start_pebble(30));
    asio::ssl::context tls = acme::client_context(pki.ca());
    const acme::EcKey account_key = acme::EcKey::generate();
    std::uint64_t retries = 0;
    ASSERT_NO_THROW(run([&](asio::any_io_executor executor) -> asio::awaitable<void> {
        acme::Session session(executor, tls, directory_url(), account_key, 10s);
        co_await session.open();
        EXPECT_TRUE(session.directory().new_order.starts_with("https://localhost:"));

        // Arguments of co_await are named first: GCC 12 cannot keep a literal in a coroutine frame.
        const std::vector<std::string> contact{"mailto:admin@example.test"};
        const std::vector<std::string> no_contact;
        const std::vector<std::string> names{"shop.test", "www.shop.test"};
        const std::string account = co_await session.account(contact);
        EXPECT_TRUE(account.starts_with("https://localhost:")) << account;
        const std::string again = co_await session.account(no_contact);
        EXPECT_EQ(again, account) << "the same key finds the same account";

        // Enough signed requests that a 30% rejection rate is sure to be met.
        for (int i = 0; i < 6; ++i) {
            const std::string replaces_nothing;
            const acme::Session::Placed placed = co_await session.new_order(names, replaces_nothing);
            EXPECT_EQ(placed.order.status, acme::Status::pending);
            EXPECT_EQ(placed.order.identifiers.size(), 2u);
            EXPECT_EQ(placed.order.authorizations.size(), 2u);
            const acme::Order read_again = co_await session.order(placed.url);
            EXPECT_EQ(read_again.finalize, placed.order.finalize);
            const acme::Authorization authorization = co_await session.authorization(placed.order.authorizations.front());
            EXPECT_EQ(authorization.status, acme::Status::pending);
            const auto offers = [&](const std::string& type) {
                return std::any_of(authorization.challenges.begin(), authorization.challenges.end(),
                                   [&](const acme::Challenge& c) { return c.type == type && !c.token.empty(); });
            };
            for (const std::string& type : {std::string("http-01"), std::string("tls-alpn-01")}) EXPECT_TRUE(offers(type)) << type;
        }
        retries = session.bad_nonce_retries();
    })) << log();
    EXPECT_GT(retries, 0u) << "pebble refused no nonce: the retry was not exercised";
}

TEST_F(AcmePebble, AnUntrustedServerIsAClearError) {
    ASSERT_NO_FATAL_FAILURE(start_pebble(0));
    TempDir other;
    TestPki stranger(other.path());
    asio::ssl::context tls = acme::client_context(stranger.ca());
    const acme::EcKey account_key = acme::EcKey::generate();
    try {
        run([&](asio::any_io_executor executor) -> asio::awaitable<void> {
            acme::Session session(executor, tls, directory_url(), account_key, 10s);
            co_await session.open();
        });
        FAIL() << "a server whose chain is not trusted was accepted";
    } catch (const acme::Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("the ACME directory https://localhost:"), std::string::npos) << what;
        EXPECT_NE(what.find("certificate verify failed"), std::string::npos) << what;
    }
}

TEST_F(AcmePebble, NothingListeningIsAClearError) {
    asio::ssl::context tls = acme::client_context(pki.ca());
    const acme::EcKey account_key = acme::EcKey::generate();
    const std::uint16_t port = free_port();
    const std::string url = "https://localhost:" + std::to_string(port) + "/dir";
    try {
        run([&](asio::any_io_executor executor) -> asio::awaitable<void> {
            acme::Session session(executor, tls, url, account_key, 5s);
            co_await session.open();
        });
        FAIL() << "no server, and no error";
    } catch (const acme::Error& e) {
        EXPECT_NE(std::string(e.what()).find("localhost:" + std::to_string(port)), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace vhostd::test
