#include "supervisor/worker_lifecycle.hpp"

#include <gtest/gtest.h>

#include <tuple>

using namespace vhostd::supervisor;
using S = WorkerState;
using E = WorkerEvent;
using A = WorkerAction;

namespace {

struct Row {
    S from;
    E event;
    S to;
    A action;
    bool failure;
};

// The table from worker_lifecycle.hpp, written out: every change a worker can go through.
const Row rows[] = {
    {S::starting, E::said_ready, S::ready, A::none, false},
    {S::starting, E::start_timed_out, S::stopping, A::send_sigterm, true},
    {S::starting, E::channel_lost, S::stopping, A::send_sigkill, true},
    {S::starting, E::retire, S::draining, A::send_drain, false},
    {S::starting, E::exited, S::exited, A::none, true},
    {S::ready, E::went_silent, S::stopping, A::send_sigterm, true},
    {S::ready, E::channel_lost, S::stopping, A::send_sigkill, true},
    {S::ready, E::retire, S::draining, A::send_drain, false},
    {S::ready, E::exited, S::exited, A::none, true},
    {S::ready, E::said_ready, S::ready, A::none, false},
    {S::draining, E::drain_timed_out, S::stopping, A::send_sigkill, false},
    {S::draining, E::channel_lost, S::draining, A::none, false},
    {S::draining, E::went_silent, S::stopping, A::send_sigterm, false},
    {S::draining, E::exited, S::exited, A::none, false},
    {S::stopping, E::kill_timed_out, S::stopping, A::send_sigkill, false},
    {S::stopping, E::retire, S::stopping, A::none, false},
    {S::stopping, E::exited, S::exited, A::none, false},
    {S::exited, E::retire, S::exited, A::none, false},
    {S::exited, E::exited, S::exited, A::none, false},
};

}  // namespace

TEST(WorkerLifecycle, FollowsTheTable) {
    for (const Row& row : rows) {
        const WorkerTransition step = transition(row.from, row.event);
        EXPECT_EQ(step.next, row.to) << to_string(row.from) << " + " << to_string(row.event);
        EXPECT_EQ(step.action, row.action) << to_string(row.from) << " + " << to_string(row.event);
        EXPECT_EQ(step.failure, row.failure) << to_string(row.from) << " + " << to_string(row.event);
    }
}

TEST(WorkerLifecycle, OnlyStartingAndReadyWorkersCanFail) {
    const E events[] = {E::said_ready, E::start_timed_out, E::went_silent, E::channel_lost,
                        E::retire, E::drain_timed_out, E::kill_timed_out, E::exited};
    for (S state : {S::draining, S::stopping, S::exited}) {
        for (E event : events) EXPECT_FALSE(transition(state, event).failure) << to_string(state) << " + " << to_string(event);
    }
}

TEST(WorkerLifecycle, NothingLeavesExited) {
    const E events[] = {E::said_ready, E::start_timed_out, E::went_silent, E::channel_lost,
                        E::retire, E::drain_timed_out, E::kill_timed_out, E::exited};
    for (E event : events) EXPECT_EQ(transition(S::exited, event).next, S::exited) << to_string(event);
}
