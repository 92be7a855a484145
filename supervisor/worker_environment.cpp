#include "supervisor/worker_environment.hpp"

#include "protocol/environment.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <string_view>
#include <system_error>

extern char** environ;

namespace vhostd::supervisor {

namespace {

// Joined with ':' as in PATH; the worker splits them in the same order.
std::string join_paths(const std::vector<conf::Certificate>& certificates, std::string conf::Certificate::*path) {
    std::string joined;
    for (const conf::Certificate& certificate : certificates) {
        if (!joined.empty()) joined += ':';
        joined += certificate.*path;
    }
    return joined;
}

}  // namespace

std::vector<std::string> worker_environment(const conf::Site& site, const ProcessRole& role, EnvironmentVariables variables,
                                            const FrontHeadLimits& head_limits, std::string_view tls_ticket_key) {
    for (const auto& [name, value] : site.env) variables[name] = value;
    if (role.singleton && site.singleton) {
        for (const auto& [name, value] : site.singleton->env) variables[name] = value;
    }
    const conf::Runtime runtime = role.singleton && site.singleton ? site.singleton->runtime : site.runtime;
    const auto heartbeat_interval = std::clamp(site.heartbeat_timeout / 3, std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
    variables[protocol::env_channel_fd] = std::to_string(protocol::channel_fd);
    variables[protocol::env_protocol_version] = protocol::protocol_version;
    variables[protocol::env_site] = site.name;
    variables[protocol::env_worker_slot] = std::to_string(role.slot);
    variables[protocol::env_generation] = std::to_string(role.generation);
    variables[protocol::env_heartbeat_interval_ms] = std::to_string(heartbeat_interval.count());
    variables[protocol::env_role] = role.singleton ? "singleton" : "worker";
    variables[protocol::env_max_head_size] = std::to_string(head_limits.max_head_size);
    variables[protocol::env_max_header_fields] = std::to_string(head_limits.max_header_fields);
    if (runtime == conf::Runtime::node) {
        // Node.js then opens the channel as its own IPC channel, in its JSON framing.
        variables["NODE_CHANNEL_FD"] = std::to_string(protocol::channel_fd);
        variables["NODE_CHANNEL_SERIALIZATION_MODE"] = "json";
    }
    // Only a passthrough site's workers terminate TLS, so only they learn where the keys are.
    if (site.tls_mode == conf::TlsMode::passthrough && !site.certificates.empty()) {
        variables[protocol::env_tls_certs] = join_paths(site.certificates, &conf::Certificate::cert);
        variables[protocol::env_tls_keys] = join_paths(site.certificates, &conf::Certificate::key);
        if (!tls_ticket_key.empty()) variables[protocol::env_tls_ticket_key] = tls_ticket_key;
    }

    std::vector<std::string> result;
    result.reserve(variables.size());
    for (const auto& [name, value] : variables) result.push_back(name + "=" + value);
    return result;
}

std::string new_tls_ticket_key() {
    std::array<unsigned char, protocol::tls_ticket_key_bytes> key;
    for (std::size_t filled = 0; filled < key.size();) {
        const ssize_t got = ::getrandom(key.data() + filled, key.size() - filled, 0);
        if (got < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "getrandom");
        if (got > 0) filled += static_cast<std::size_t>(got);
    }
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * key.size());
    for (const unsigned char byte : key) {
        hex += digits[byte >> 4];
        hex += digits[byte & 0xf];
    }
    return hex;
}

EnvironmentVariables inherited_environment() {
    EnvironmentVariables variables;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const auto equals = text.find('=');
        if (equals != std::string_view::npos) variables[std::string(text.substr(0, equals))] = text.substr(equals + 1);
    }
    return variables;
}

}  // namespace vhostd::supervisor
