// The key and slot of session affinity: stable, spread evenly, and consistent when the
// number of slots changes.
#include "supervisor/affinity.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace vhostd::supervisor {
namespace {

const conf::Affinity by_client{.by = conf::Affinity::By::client, .cookie = {}};
const conf::Affinity by_cookie{.by = conf::Affinity::By::cookie, .cookie = "io"};

std::string head_with_cookie(const std::string& value) {
    return "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: a.test\r\nCookie: lang=en; io=" + value + "\r\n\r\n";
}

TEST(AffinityKey, NoneWithoutAffinity) {
    EXPECT_EQ(affinity_key({}, "192.0.2.1", head_with_cookie("abc")), std::nullopt);
}

TEST(AffinityKey, TheClientAddressAloneDecides) {
    const auto key = affinity_key(by_client, "192.0.2.1", head_with_cookie("abc"));
    ASSERT_TRUE(key);
    EXPECT_EQ(affinity_key(by_client, "192.0.2.1", ""), key) << "the head plays no part";
    EXPECT_NE(affinity_key(by_client, "192.0.2.2", ""), key);
    EXPECT_EQ(affinity_key(by_client, "::ffff:192.0.2.1", ""), key) << "over IPv4 to a dual-stack listener";
    EXPECT_NE(affinity_key(by_client, "::ffff:c000:201", ""), std::nullopt);
}

TEST(AffinityKey, TheCookieValueAloneDecides) {
    const auto key = affinity_key(by_cookie, "192.0.2.1", head_with_cookie("abc"));
    ASSERT_TRUE(key);
    EXPECT_EQ(affinity_key(by_cookie, "198.51.100.7", head_with_cookie("abc")), key) << "the address plays no part";
    EXPECT_NE(affinity_key(by_cookie, "192.0.2.1", head_with_cookie("abd")), key);
}

TEST(AffinityKey, NoneWithoutTheCookieOrWithoutAnHttpHead) {
    EXPECT_EQ(affinity_key(by_cookie, "192.0.2.1", "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"), std::nullopt);
    EXPECT_EQ(affinity_key(by_cookie, "192.0.2.1", ""), std::nullopt);
}

// The same client reaches the same slot in every run and version of vhostd: the values are
// fixed here, so a change of the hash shows up as a failing test, not as moved sessions.
// A worker that makes a session sets the cookie to its own slot; the client comes back to it.
TEST(AffinityKey, ACookieThatIsASlotNumberNamesThatSlot) {
    EXPECT_EQ(affinity_key(by_cookie, "", head_with_cookie("2")), (protocol::AffinityKey{.value = 2, .names_slot = true}));
    EXPECT_EQ(affinity_slot(*affinity_key(by_cookie, "", head_with_cookie("2")), 3), 2u);
    EXPECT_EQ(affinity_slot(*affinity_key(by_cookie, "", head_with_cookie("0")), 3), 0u);
    EXPECT_EQ(affinity_slot(*affinity_key(by_cookie, "", head_with_cookie("255")), 256), 255u);
    const unsigned past_the_end = affinity_slot(*affinity_key(by_cookie, "", head_with_cookie("7")), 3);
    EXPECT_LT(past_the_end, 3u) << "a slot the pool no longer has: hashed onto one it has";
    for (const char* not_a_slot : {"256", "1000", "-1", "1a", " 1x"}) {
        EXPECT_FALSE(affinity_key(by_cookie, "", head_with_cookie(not_a_slot))->names_slot) << not_a_slot;
    }
}

TEST(AffinitySlot, IsTheSameInEveryRun) {
    const auto client_key = affinity_key(by_client, "192.0.2.1", "");
    EXPECT_EQ(client_key, (protocol::AffinityKey{.value = 0xc8c12fea835ef2e1u, .names_slot = false}));
    EXPECT_EQ(affinity_slot(*client_key, 4), 1u);
    EXPECT_EQ(affinity_slot(*client_key, 10), 1u);
    const auto cookie_key = affinity_key(by_cookie, "", "GET / HTTP/1.1\r\nHost: a\r\nCookie: io=abc\r\n\r\n");
    EXPECT_EQ(cookie_key, (protocol::AffinityKey{.value = 0xf120aee01df30dabu, .names_slot = false}));
    EXPECT_EQ(affinity_slot(*cookie_key, 3), 1u);
    EXPECT_EQ(affinity_slot({.value = 0x0123456789abcdefu, .names_slot = false}, 10), 0u);
    EXPECT_EQ(affinity_slot({.value = 0x0123456789abcdefu, .names_slot = false}, 1), 0u) << "one slot takes every key";
}

TEST(AffinitySlot, SpreadsClientsEvenly) {
    constexpr unsigned slots = 3;
    constexpr int clients = 3000;
    std::array<int, slots> per_slot{};
    for (int i = 0; i < clients; ++i) {
        const std::string address = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
        const unsigned slot = affinity_slot(*affinity_key(by_client, address, ""), slots);
        ASSERT_LT(slot, slots);
        ++per_slot[slot];
    }
    for (const int count : per_slot) {
        EXPECT_GT(count, clients / slots * 8 / 10);
        EXPECT_LT(count, clients / slots * 12 / 10);
    }
}

// Growing the pool from N to N+1 slots moves only the sessions the new slot takes (about
// one in N+1); the others keep their worker.
TEST(AffinitySlot, GrowingByOneMovesOnlyTheKeysOfTheNewSlot) {
    constexpr int sessions = 2000;
    int moved = 0;
    for (int i = 0; i < sessions; ++i) {
        const protocol::AffinityKey key = *affinity_key(by_cookie, "", head_with_cookie("session-" + std::to_string(i)));
        const unsigned before = affinity_slot(key, 3);
        const unsigned after = affinity_slot(key, 4);
        if (after != before) {
            EXPECT_EQ(after, 3u) << "a session moved between two old slots";
            ++moved;
        }
    }
    EXPECT_GT(moved, sessions / 4 * 8 / 10);
    EXPECT_LT(moved, sessions / 4 * 12 / 10);
}

}  // namespace
}  // namespace vhostd::supervisor
