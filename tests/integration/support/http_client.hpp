// A deliberately raw HTTP client for tests: exact bytes out, everything that comes back in.
// Every call is bounded in time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace vhostd::test {

using namespace std::chrono_literals;

// A port that was free a moment ago on 127.0.0.1.
std::uint16_t free_port();

struct Exchange {
    std::string response;     // all bytes received until the server closed or the timeout
    bool closed = false;      // the server closed the connection cleanly (FIN)
    bool reset = false;       // the connection was reset
    bool timed_out = false;

    int status() const;       // from the first status line; 0 if none
    std::string body() const; // after the first empty line
};

// Connects, sends `request` (possibly in several parts with `gap` between them), and reads
// until the server closes or `timeout` passes.
Exchange round_trip(std::uint16_t port, const std::string& request, std::chrono::milliseconds timeout = 5000ms);

// A GET with the given Host and "Connection: close".
Exchange get(std::uint16_t port, const std::string& host, const std::string& path = "/");
// The same, or nullopt while nothing accepts on the port yet (for waits at start).
std::optional<Exchange> try_get(std::uint16_t port, const std::string& host, const std::string& path = "/");

// An open TCP connection for step-by-step scenarios.
class Connection {
public:
    explicit Connection(std::uint16_t port);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void send(const std::string& bytes);
    // Reads until `done(received)` is true, the peer closes, or `timeout` passes.
    Exchange read_until(bool (*done)(const std::string&), std::chrono::milliseconds timeout = 5000ms);
    Exchange read_all(std::chrono::milliseconds timeout = 5000ms);
    int fd() const { return fd_; }

private:
    int fd_;
};

// The pid in a hello-worker answer ("hello from blog (pid 1234)"), or nullopt.
std::optional<int> pid_in(const std::string& body);

}  // namespace vhostd::test
