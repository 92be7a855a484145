#include "supervisor/connection_queue.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

using namespace vhostd;
using namespace vhostd::supervisor;
using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

namespace {

protocol::PendingConnection connection(std::uint64_t id) {
    protocol::PendingConnection c;
    c.info.id = id;
    return c;
}

const TimePoint t0{std::chrono::seconds(1000)};

}  // namespace

TEST(ConnectionQueue, OldestFirstWithTheirDeadlines) {
    ConnectionQueue queue;
    EXPECT_TRUE(queue.empty());
    EXPECT_FALSE(queue.next_deadline());
    queue.push_back(connection(1), t0, 5s);
    queue.push_back(connection(2), t0 + 1s, 5s);
    EXPECT_EQ(queue.size(), 2u);
    EXPECT_EQ(queue.next_deadline(), t0 + 5s);
    const auto first = queue.pop_front();
    EXPECT_EQ(first.connection.info.id, 1u);
    EXPECT_EQ(first.since, t0);
    EXPECT_EQ(queue.next_deadline(), t0 + 6s);
}

TEST(ConnectionQueue, ExpiresInDeadlineOrder) {
    ConnectionQueue queue;
    queue.push_back(connection(1), t0, 5s);
    queue.push_back(connection(2), t0 + 1s, 5s);
    queue.push_back(connection(3), t0 + 2s, 5s);
    EXPECT_FALSE(queue.pop_expired(t0 + 4999ms));
    auto expired = queue.pop_expired(t0 + 6s);
    ASSERT_TRUE(expired);
    EXPECT_EQ(expired->connection.info.id, 1u);
    expired = queue.pop_expired(t0 + 6s);
    ASSERT_TRUE(expired);
    EXPECT_EQ(expired->connection.info.id, 2u);
    EXPECT_FALSE(queue.pop_expired(t0 + 6s));
    EXPECT_EQ(queue.size(), 1u);
}

TEST(ConnectionQueue, ShorterTimeoutNeverPutsADeadlineBeforeTheOneAhead) {
    ConnectionQueue queue;
    queue.push_back(connection(1), t0, 10s);
    queue.push_back(connection(2), t0 + 1s, 2s);  // a reload shortened queue_timeout
    queue.pop_front();
    EXPECT_EQ(queue.next_deadline(), t0 + 10s);
}

TEST(ConnectionQueue, ARefusedConnectionGoesFirstAndNoLaterThanTheFront) {
    ConnectionQueue queue;
    queue.push_back(connection(1), t0, 5s);
    queue.push_front(connection(9), t0 + 3s, 5s);
    EXPECT_EQ(queue.front().connection.info.id, 9u);
    EXPECT_EQ(queue.next_deadline(), t0 + 5s);  // not t0 + 8s: the one behind is due then
    // Both go at the first deadline, the refused one first.
    EXPECT_EQ(queue.pop_expired(t0 + 5s)->connection.info.id, 9u);
    EXPECT_EQ(queue.pop_expired(t0 + 5s)->connection.info.id, 1u);
}

TEST(ConnectionQueue, ARefusedConnectionAloneGetsAFullTimeout) {
    ConnectionQueue queue;
    queue.push_front(connection(9), t0, 5s);
    EXPECT_EQ(queue.next_deadline(), t0 + 5s);
}

TEST(RejectReason, EachHasItsOwnText) {
    const RejectReason reasons[] = {RejectReason::queue_full,  RejectReason::stopping,      RejectReason::paused,
                                    RejectReason::quarantined, RejectReason::queue_timeout, RejectReason::refused_too_often};
    std::set<std::string> texts;
    for (const RejectReason reason : reasons) texts.insert(to_string(reason));
    EXPECT_EQ(texts.size(), std::size(reasons));
    EXPECT_STREQ(to_string(RejectReason::queue_full), "queue full");
    EXPECT_STREQ(to_string(RejectReason::queue_timeout), "no worker ready within queue_timeout");
    EXPECT_STREQ(to_string(RejectReason::quarantined), "site quarantined after repeated crashes");
}
