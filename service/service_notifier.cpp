#include "service/service_notifier.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace vhostd::service {

namespace {

bool parse_whole(std::string_view text, long long& out) {
    const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    return error == std::errc() && stop == text.data() + text.size() && !text.empty();
}

}  // namespace

std::optional<NotifyAddress> parse_notify_socket(std::string_view value) {
    NotifyAddress parsed;
    parsed.address.sun_family = AF_UNIX;
    const bool abstract = value.starts_with('@');
    if (value.size() < 2 || (!abstract && !value.starts_with('/')) || value.size() > sizeof parsed.address.sun_path - (abstract ? 0 : 1)) {
        return std::nullopt;
    }
    std::memcpy(parsed.address.sun_path, value.data(), value.size());
    if (abstract) parsed.address.sun_path[0] = '\0';  // the abstract namespace: no terminator counted
    parsed.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size() + (abstract ? 0 : 1));
    return parsed;
}

std::chrono::microseconds watchdog_interval(const char* watchdog_usec, const char* watchdog_pid, pid_t self) {
    long long usec = 0;
    long long pid = 0;
    if (watchdog_usec == nullptr || !parse_whole(watchdog_usec, usec) || usec <= 0) return {};
    if (watchdog_pid != nullptr && (!parse_whole(watchdog_pid, pid) || pid != self)) return {};
    return std::chrono::microseconds(usec / 2);
}

ServiceNotifier ServiceNotifier::from_environment() {
    ServiceNotifier notifier;
    const char* value = std::getenv("NOTIFY_SOCKET");
    if (value == nullptr) return notifier;
    const std::optional<NotifyAddress> address = parse_notify_socket(value);
    if (!address) {
        spdlog::warn("NOTIFY_SOCKET=\"{}\" is not an absolute path or @name: systemd will not hear from vhostd", value);
        return notifier;
    }
    notifier.address_ = *address;
    notifier.socket_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    notifier.watchdog_interval_ = service::watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
    return notifier;
}

void ServiceNotifier::notify(std::string_view state, bool may_drop) {
    if (!socket_) return;
    const ssize_t sent = ::sendto(socket_.get(), state.data(), state.size(), MSG_NOSIGNAL | (may_drop ? MSG_DONTWAIT : 0),
                                  reinterpret_cast<const sockaddr*>(&address_.address), address_.length);
    if (sent == static_cast<ssize_t>(state.size())) return;
    if (!failure_logged_) spdlog::warn("cannot notify systemd ({}): {}", state.substr(0, state.find('\n')), std::strerror(errno));
    failure_logged_ = true;
}

std::string monotonic_usec() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return "MONOTONIC_USEC=" + std::to_string(static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000);
}

}  // namespace vhostd::service
