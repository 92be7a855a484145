// vhostd's own privileges: started as root to bind privileged ports, it can run as an
// unprivileged user from then on ([server] user), keeping only the capabilities its work
// needs. Workers start from exec() with none of them.
#pragma once

#include <string>

namespace vhostd::supervisor {

// Switches vhostd to `user` (and `group`, else the user's primary group), keeping four
// capabilities: CAP_SETUID and CAP_SETGID (to start a site's workers as the site's user),
// CAP_KILL (to signal workers that run as other users) and CAP_NET_BIND_SERVICE (to bind
// privileged ports a reload adds). A vhostd started by an upgrade already runs as `user`
// with those capabilities: it only narrows its state to the same. Throws
// std::runtime_error naming what failed.
void drop_privileges(const std::string& user, const std::string& group);

// In the child of a fork, just before it execs the new vhostd of an upgrade: makes the
// capabilities kept by drop_privileges() survive the exec (as ambient capabilities), which
// a non-root process otherwise loses. Async-signal-safe: raw system calls only.
void keep_capabilities_across_exec() noexcept;

// True when this process may start workers as another user: root, or the capabilities kept
// by drop_privileges().
bool can_switch_users();

}  // namespace vhostd::supervisor
