// Which worker gets a connection. Pure, and allocation-free: it reads each worker through
// `candidate_at(i)`, which says whether worker i can take it now, whether it is the one that
// just refused it, and how loaded it is.
//
// The least loaded usable worker wins; ties go to the first one at or after `start` (the
// round robin); the worker that refused the connection is chosen only when no other can.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace vhostd::supervisor {

struct WorkerCandidate {
    bool usable = false;      // ready, channel up, room in flight, and not already tried
    bool refused_it = false;  // said this connection's fd never reached it
    std::uint64_t load = 0;
};

// The index of the chosen worker among `count`, or `count` when none can take it.
template <class CandidateAt>
    requires std::is_invocable_r_v<WorkerCandidate, CandidateAt&, std::size_t>
std::size_t choose_worker(std::size_t count, std::size_t start, CandidateAt&& candidate_at) {
    std::size_t best = count;
    std::uint64_t best_load = 0;
    std::size_t refuser = count;
    for (std::size_t k = 0; k < count; ++k) {
        const std::size_t i = (start + k) % count;
        const WorkerCandidate candidate = candidate_at(i);
        if (!candidate.usable) continue;
        if (candidate.refused_it) {
            refuser = i;
            continue;
        }
        if (best == count || candidate.load < best_load) {
            best = i;
            best_load = candidate.load;
        }
    }
    return best == count ? refuser : best;
}

}  // namespace vhostd::supervisor
