#include "server/error_response.hpp"

#include <string_view>

namespace vhostd::server {

namespace {

std::string_view reason_phrase(int status) {
    switch (status) {
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 408: return "Request Timeout";
        case 414: return "URI Too Long";
        case 421: return "Misdirected Request";
        case 431: return "Request Header Fields Too Large";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Error";
    }
}

}  // namespace

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

}  // namespace vhostd::server
