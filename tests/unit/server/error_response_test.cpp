#include "server/error_response.hpp"

#include <gtest/gtest.h>

using vhostd::server::error_response;

TEST(ErrorResponse, IsCompleteHttpWithMatchingContentLength) {
    const std::string response = error_response(404);
    EXPECT_EQ(response.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
    EXPECT_NE(response.find("\r\nConnection: close\r\n"), std::string::npos);
    const auto body_start = response.find("\r\n\r\n") + 4;
    EXPECT_EQ(response.substr(body_start), "404 Not Found\n");
    EXPECT_NE(response.find("Content-Length: " + std::to_string(response.size() - body_start) + "\r\n"), std::string::npos);
    EXPECT_EQ(response.find("Retry-After"), std::string::npos);
}

TEST(ErrorResponse, ServiceUnavailableCarriesRetryAfter) {
    const std::string response = error_response(503, 7);
    EXPECT_EQ(response.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
    EXPECT_NE(response.find("\r\nRetry-After: 7\r\n"), std::string::npos);
}

TEST(ErrorResponse, EveryFrontStatusHasItsReasonPhrase) {
    EXPECT_NE(error_response(400).find("400 Bad Request"), std::string::npos);
    EXPECT_NE(error_response(408).find("408 Request Timeout"), std::string::npos);
    EXPECT_NE(error_response(414).find("414 URI Too Long"), std::string::npos);
    EXPECT_NE(error_response(431).find("431 Request Header Fields Too Large"), std::string::npos);
    EXPECT_NE(error_response(505).find("505 HTTP Version Not Supported"), std::string::npos);
}
