#include "supervisor/worker_choice.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace vhostd::supervisor;

namespace {

std::size_t choose(const std::vector<WorkerCandidate>& workers, std::size_t start) {
    return choose_worker(workers.size(), start, [&](std::size_t i) { return workers[i]; });
}

WorkerCandidate usable(std::uint64_t load) { return {.usable = true, .refused_it = false, .load = load}; }
WorkerCandidate refuser(std::uint64_t load) { return {.usable = true, .refused_it = true, .load = load}; }
WorkerCandidate unusable(std::uint64_t load) { return {.usable = false, .refused_it = false, .load = load}; }

}  // namespace

TEST(WorkerChoice, LeastLoadedWins) {
    EXPECT_EQ(choose({usable(3), usable(1), usable(2)}, 0), 1u);
    EXPECT_EQ(choose({usable(3), usable(1), usable(2)}, 2), 1u);
}

TEST(WorkerChoice, TiesGoRoundRobin) {
    const std::vector<WorkerCandidate> even{usable(0), usable(0), usable(0)};
    EXPECT_EQ(choose(even, 0), 0u);
    EXPECT_EQ(choose(even, 1), 1u);
    EXPECT_EQ(choose(even, 2), 2u);
    EXPECT_EQ(choose(even, 3), 0u);  // the start wraps
    EXPECT_EQ(choose({usable(1), usable(0), usable(0)}, 2), 2u);
}

TEST(WorkerChoice, TheRefuserIsTheLastChoice) {
    EXPECT_EQ(choose({refuser(0), usable(5)}, 0), 1u);
    EXPECT_EQ(choose({refuser(0), unusable(0)}, 0), 0u);
}

TEST(WorkerChoice, UnusableAndFailedWorkersAreSkipped) {
    EXPECT_EQ(choose({unusable(0), usable(4), unusable(0)}, 0), 1u);
    EXPECT_EQ(choose({unusable(0), unusable(0)}, 0), 2u);
    EXPECT_EQ(choose({}, 0), 0u);
}

TEST(WorkerChoice, AFailedSendMovesToTheNextBest) {
    // The caller marks a worker whose send failed as unusable and asks again.
    std::vector<WorkerCandidate> workers{usable(2), usable(1), usable(3)};
    EXPECT_EQ(choose(workers, 0), 1u);
    workers[1].usable = false;
    EXPECT_EQ(choose(workers, 0), 0u);
    workers[0].usable = false;
    EXPECT_EQ(choose(workers, 0), 2u);
}
