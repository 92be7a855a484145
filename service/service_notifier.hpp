// vhostd's side of systemd's notify protocol (sd_notify(3)), in the few lines it takes:
// "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=…", "MAINPID=…" and "WATCHDOG=1", each a
// datagram to the socket named by $NOTIFY_SOCKET. Without that variable nothing is sent,
// so vhostd behaves the same under systemd, Docker or a shell.
#pragma once

#include "protocol/file_descriptor.hpp"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace vhostd::service {

// Pure: the address $NOTIFY_SOCKET names: a path, or "@name" for the abstract namespace;
// nullopt when it is empty, relative or too long.
struct NotifyAddress {
    sockaddr_un address{};
    socklen_t length = 0;
};
std::optional<NotifyAddress> parse_notify_socket(std::string_view value);

// Pure: how often to send WATCHDOG=1 (half of WATCHDOG_USEC, as sd_watchdog_enabled(3)
// advises), or zero when the watchdog is off or meant for another process (WATCHDOG_PID).
std::chrono::microseconds watchdog_interval(const char* watchdog_usec, const char* watchdog_pid, pid_t self);

class ServiceNotifier {
public:
    ServiceNotifier() = default;
    // From $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID. They stay in the environment for
    // the vhostd an upgrade starts; workers never see them (their environment is explicit).
    static ServiceNotifier from_environment();

    bool enabled() const { return static_cast<bool>(socket_); }
    // One datagram of newline-separated assignments. A failure is logged, never thrown:
    // systemd going away must not stop vhostd serving. One that `may_drop` (a watchdog
    // ping) is dropped rather than waiting for a systemd whose queue is full.
    void notify(std::string_view state, bool may_drop = false);
    // Zero when systemd expects no WATCHDOG=1 from this process.
    std::chrono::microseconds watchdog_interval() const { return watchdog_interval_; }

private:
    NotifyAddress address_;
    protocol::FileDescriptor socket_;
    std::chrono::microseconds watchdog_interval_{0};
    bool failure_logged_ = false;
};

// "MONOTONIC_USEC=…", which systemd wants with RELOADING=1 (since v253).
std::string monotonic_usec();

}  // namespace vhostd::service
