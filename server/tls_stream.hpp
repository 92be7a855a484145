// OpenSSL directly on a non-blocking TCP socket, with Asio only for readiness: records go
// between the kernel and OpenSSL's own buffer, with no BIO pair and no extra copy (what
// nginx does). All calls on one stream happen on its front thread; one read and one write
// may be in progress at once (the relay's two directions).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace vhostd::server {

class TlsStream {
public:
    // Takes a connected socket; the stream sets it non-blocking.
    TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* context);

    // The TCP socket, for deadlines (cancel) and the final lingering close.
    boost::asio::ip::tcp::socket& socket() { return socket_; }

    // False when the handshake failed or was cancelled; failure() says why.
    boost::asio::awaitable<bool> handshake();
    // Bytes read (> 0), 0 at the end of the stream (close_notify or EOF), -1 on an error or
    // a cancel.
    boost::asio::awaitable<long> read_some(char* data, std::size_t size);
    boost::asio::awaitable<bool> write_all(std::string_view data);

    // One SSL_read or SSL_write that never waits, for the relay, which keeps no buffer of
    // its own while idle. After want_write from try_write, the next write must start with
    // the same bytes (write_all does).
    enum class Attempt { done, end, failed, want_read, want_write };
    struct Result {
        Attempt attempt;
        std::size_t bytes = 0;
    };
    Result try_read(char* data, std::size_t size);
    Result try_write(const char* data, std::size_t size);
    // Decrypted bytes of a record OpenSSL has read already: no need to wait for the socket.
    // (Not SSL_has_pending(), which also counts part of a record, which needs the socket.)
    bool has_decrypted() const { return SSL_pending(ssl_.get()) > 0; }
    // An SSL_write waits to be retried with the same bytes. Reading meanwhile is unsafe: a
    // TLS 1.3 KeyUpdate the read answers would write a record before the pending one.
    bool write_pending() const { return write_pending_; }
    // Sends close_notify once, without waiting for the client's (a unidirectional shutdown).
    void close_notify();

    std::string failure() const { return failure_; }
    std::string version() const { return SSL_get_version(ssl_.get()); }
    std::string cipher() const { return SSL_get_cipher_name(ssl_.get()); }
    std::string alpn() const;

private:
    enum class Outcome { done, closed, failed };
    // Runs `call` (an SSL_* I/O call) until it succeeds, waiting for whichever readiness
    // OpenSSL asks for.
    template <typename Call>
    boost::asio::awaitable<std::pair<Outcome, int>> drive(Call call);

    boost::asio::ip::tcp::socket socket_;
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl_;
    std::string failure_;
    bool write_pending_ = false;
};

}  // namespace vhostd::server
