// handoff_floor: the least a front can do per connection, to measure what the kernel alone
// costs on this machine. It accepts, peeks once, sends the connection to one hello-worker
// over the same channel protocol (a NODE_HANDLE line with the fd, docs/protocol.md) and closes
// its copy when the worker's ack comes: vhostd's system calls, without its head parse,
// routing, timers, supervisor or Asio. bench/run.sh runs it beside vhostd (WORKERS=1) and
// compares the CPU each uses per connection.
//   handoff_floor PORT WORKER_PROGRAM [ARG...]
#include "protocol/channel.hpp"
#include "protocol/environment.hpp"
#include "protocol/message.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "handoff_floor: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

int listen_on(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof one);  // as vhostd's listeners
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fail("bind");
    if (::listen(fd, 4096) != 0) fail("listen");
    return fd;
}

// The worker, with its end of the channel on fd 3 as vhostd starts it.
pid_t start_worker(char** argv, int channel) {
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid > 0) return pid;
    if (::dup2(channel, 3) < 0) std::_Exit(127);
    ::setenv(vhostd::protocol::env_channel_fd, "3", 1);
    ::setenv(vhostd::protocol::env_site, "hello", 1);
    ::execv(argv[0], argv);
    std::_Exit(127);
}

volatile sig_atomic_t stopping = 0;

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: handoff_floor PORT WORKER_PROGRAM [ARG...]\n");
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);
    struct sigaction on_term{};
    on_term.sa_handler = [](int) { stopping = 1; };
    ::sigaction(SIGTERM, &on_term, nullptr);
    ::sigaction(SIGINT, &on_term, nullptr);

    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) fail("socketpair");
    const pid_t worker = start_worker(argv + 2, ends[1]);
    ::close(ends[1]);
    const int channel = ends[0];
    ::fcntl(channel, F_SETFL, O_NONBLOCK);  // ours only: the worker's end stays as vhostd gives it
    const int listener = listen_on(static_cast<std::uint16_t>(std::atoi(argv[1])));
    // An ack names no connection: each answers the oldest one not yet answered.

    const int poll = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event listen_event{EPOLLIN | EPOLLET, {.fd = listener}};
    epoll_event channel_event{EPOLLIN | EPOLLET, {.fd = channel}};
    if (::epoll_ctl(poll, EPOLL_CTL_ADD, listener, &listen_event) != 0 || ::epoll_ctl(poll, EPOLL_CTL_ADD, channel, &channel_event) != 0) {
        fail("epoll_ctl");
    }

    std::deque<int> unacknowledged;  // our copies, closed oldest first as the acks come
    std::string line;
    std::string received;  // from the channel, up to a line's end
    char head[16 * 1024];
    char acks[4096];
    std::uint64_t id = 0;
    vhostd::protocol::ConnectionInfo info;
    info.site = "hello";
    info.remote_address = info.local_address = "127.0.0.1";
    info.host = "hello.test";
    info.local_port = static_cast<std::uint16_t>(std::atoi(argv[1]));
    while (!stopping) {
        epoll_event events[2];
        const int ready = ::epoll_wait(poll, events, 2, -1);
        if (ready < 0 && errno != EINTR) fail("epoll_wait");
        for (int i = 0; i < ready; ++i) {
            if (events[i].data.fd == channel) {
                for (;;) {  // each line is an ack here, or a heartbeat (ignored)
                    const ssize_t got = ::read(channel, acks, sizeof acks);
                    if (got <= 0) break;
                    received.append(acks, static_cast<std::size_t>(got));
                }
                std::size_t start = 0;
                for (std::size_t end; (end = received.find('\n', start)) != std::string::npos; start = end + 1) {
                    const bool ack = std::string_view(received).substr(start, end - start).find(vhostd::protocol::command::handle_ack) != std::string_view::npos;
                    if (ack && !unacknowledged.empty()) {
                        ::close(unacknowledged.front());
                        unacknowledged.pop_front();
                    }
                }
                received.erase(0, start);
                continue;
            }
            for (;;) {
                sockaddr_in peer{};
                socklen_t length = sizeof peer;
                const int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
                if (fd < 0) break;
                const ssize_t peeked = ::recv(fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
                info.id = ++id;
                info.remote_port = ntohs(peer.sin_port);
                info.head_length = peeked > 0 ? static_cast<std::size_t>(peeked) : 0;
                vhostd::protocol::encode_handle_into(line, info);
                if (vhostd::protocol::send_with_fd(channel, line, fd, MSG_DONTWAIT) < 0) {
                    ::close(fd);
                    continue;
                }
                unacknowledged.push_back(fd);
            }
        }
    }
    ::kill(worker, SIGTERM);
    ::waitpid(worker, nullptr, 0);
    return 0;
}
