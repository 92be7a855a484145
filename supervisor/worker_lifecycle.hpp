// A worker's life as an explicit state x event table (after s6): every change of state a
// worker goes through is one row here, and nothing else changes a worker's state. Pure.
#pragma once

namespace vhostd::supervisor {

enum class WorkerState {
    starting,  // spawned, has not said ready: gets no connections; start_timeout runs
    ready,     // gets connections; must be heard from within heartbeat_timeout
    draining,  // told to finish and exit: no new connections; drain_timeout runs
    stopping,  // signalled to die (SIGTERM, then SIGKILL after kill_timeout)
    exited,    // reaped
};

enum class WorkerEvent {
    said_ready,       // "vhostd:ready" arrived
    start_timed_out,  // still starting after start_timeout
    went_silent,      // ready or draining, but nothing heard for heartbeat_timeout (hung, or SIGSTOPped)
    channel_lost,     // the channel closed or carried garbage
    retire,           // graceful replacement: age, memory, requests, reload, idle, shutdown
    drain_timed_out,  // still draining after drain_timeout
    kill_timed_out,   // still alive kill_timeout after SIGTERM
    exited,           // the process is gone (reaped)
};

enum class WorkerAction { none, send_drain, send_sigterm, send_sigkill };

struct WorkerTransition {
    WorkerState next;
    WorkerAction action = WorkerAction::none;
    bool failure = false;  // counts towards the site's restart limit and backoff
};

WorkerTransition transition(WorkerState state, WorkerEvent event);

const char* to_string(WorkerState state);
const char* to_string(WorkerEvent event);

}  // namespace vhostd::supervisor
