#include "server/error_response.hpp"

#include "http/status.hpp"

#include <string_view>

namespace vhostd::server {

using http::reason_phrase;

std::string error_response(int status, int retry_after_seconds) {
    const std::string body = std::to_string(status) + " " + std::string(reason_phrase(status)) + "\n";
    std::string response = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
    response += "Server: vhostd\r\nContent-Type: text/plain\r\nConnection: close\r\n";
    if (retry_after_seconds > 0) response += "Retry-After: " + std::to_string(retry_after_seconds) + "\r\n";
    response += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return response;
}

std::string redirect_response(std::string_view location) {
    const std::string body = "308 Permanent Redirect to " + std::string(location) + "\n";
    return "HTTP/1.1 308 Permanent Redirect\r\nServer: vhostd\r\nLocation: " + std::string(location) +
           "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

std::string acme_challenge_response(std::string_view key_authorization) {
    return "HTTP/1.1 200 OK\r\nServer: vhostd\r\nContent-Type: application/octet-stream\r\nConnection: close\r\nContent-Length: " +
           std::to_string(key_authorization.size()) + "\r\n\r\n" + std::string(key_authorization);
}

}  // namespace vhostd::server
