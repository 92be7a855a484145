#include "supervisor/worker_lifecycle.hpp"

namespace vhostd::supervisor {

namespace {

using S = WorkerState;
using E = WorkerEvent;
using A = WorkerAction;

constexpr WorkerTransition stay(S state) { return {state}; }

}  // namespace

WorkerTransition transition(WorkerState state, WorkerEvent event) {
    if (event == E::exited) {
        // Leaving while it was meant to serve is a failure; leaving when asked to is not.
        return {S::exited, A::none, state == S::starting || state == S::ready};
    }
    switch (state) {
        case S::starting:
            switch (event) {
                case E::said_ready: return stay(S::ready);
                case E::start_timed_out: return {S::stopping, A::send_sigterm, true};
                case E::channel_lost: return {S::stopping, A::send_sigkill, true};
                case E::retire: return {S::draining, A::send_drain};
                default: return stay(state);
            }
        case S::ready:
            switch (event) {
                case E::went_silent: return {S::stopping, A::send_sigterm, true};
                case E::channel_lost: return {S::stopping, A::send_sigkill, true};
                case E::retire: return {S::draining, A::send_drain};
                default: return stay(state);
            }
        case S::draining:
            // A draining worker closes its channel when it is done: that is expected. One
            // that hangs (or is stopped) while draining would hold its clients until
            // drain_timeout: its silence gives it away as when it was ready.
            if (event == E::drain_timed_out) return {S::stopping, A::send_sigkill};
            if (event == E::went_silent) return {S::stopping, A::send_sigterm};
            return stay(state);
        case S::stopping:
            if (event == E::kill_timed_out) return {S::stopping, A::send_sigkill};
            return stay(state);
        case S::exited:
            return stay(state);
    }
    return stay(state);
}

const char* to_string(WorkerState state) {
    switch (state) {
        case S::starting: return "starting";
        case S::ready: return "ready";
        case S::draining: return "draining";
        case S::stopping: return "stopping";
        case S::exited: return "exited";
    }
    return "?";
}

const char* to_string(WorkerEvent event) {
    switch (event) {
        case E::said_ready: return "said ready";
        case E::start_timed_out: return "did not say ready within start_timeout";
        case E::went_silent: return "silent for heartbeat_timeout";
        case E::channel_lost: return "channel lost";
        case E::retire: return "retire";
        case E::drain_timed_out: return "still running after drain_timeout";
        case E::kill_timed_out: return "still running after kill_timeout";
        case E::exited: return "exited";
    }
    return "?";
}

}  // namespace vhostd::supervisor
