#include "sdk/cpp/request_reader.hpp"

#include "http/host.hpp"
#include "http/status.hpp"
#include "protocol/environment.hpp"

#include <charconv>
#include <cstdlib>
#include <iostream>

namespace vhostd::sdk {

namespace {

// A positive decimal from the environment, or `fallback` when unset or not one.
std::size_t environment_size(const char* name, std::size_t fallback) {
    const char* text = std::getenv(name);
    if (text == nullptr) return fallback;
    const std::string_view value(text);
    std::size_t parsed = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (value.empty() || error != std::errc() || end != value.data() + value.size() || parsed == 0) return fallback;
    return parsed;
}

}  // namespace

RequestLimits RequestLimits::from_environment() {
    RequestLimits limits;
    limits.head.max_head_size = environment_size(protocol::env_max_head_size, limits.head.max_head_size);
    limits.head.max_fields = environment_size(protocol::env_max_header_fields, limits.head.max_fields);
    limits.head.max_request_line = std::min(limits.head.max_request_line, limits.head.max_head_size);
    return limits;
}

bool ConnectionHost::admits(const std::string& request_host) {
    if (!host_) {
        host_ = request_host;
        return true;
    }
    if (request_host.empty()) return host_->empty() || by_sni_;
    return !host_->empty() && http::same_host(request_host, *host_);
}

std::string refusal_response(const Refusal& refusal) {
    const std::string status = std::to_string(refusal.status) + " " + std::string(http::reason_phrase(refusal.status));
    const std::string body = status + "\n";
    return "HTTP/1.1 " + status + "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

void log_refusal(const Refusal& refusal) {
    std::cerr << "refused a request: " << refusal.status << " " << refusal.reason << std::endl;
}

}  // namespace vhostd::sdk
