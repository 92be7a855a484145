#include "server/tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/err.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace vhostd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

TlsStream::TlsStream(tcp::socket socket, SSL_CTX* context) : socket_(std::move(socket)), ssl_(SSL_new(context), &SSL_free) {
    boost::system::error_code ignored;
    socket_.native_non_blocking(true, ignored);
    // A relay forwards what it has at once; with Nagle, a small record written after an
    // unacknowledged one (an answer after the session tickets) waits for a delayed ACK.
    socket_.set_option(tcp::no_delay(true), ignored);
    if (ssl_) SSL_set_fd(ssl_.get(), socket_.native_handle());
}

template <typename Call>
asio::awaitable<std::pair<TlsStream::Outcome, int>> TlsStream::drive(Call call) {
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    if (!ssl_) {
        failure_ = "out of memory";
        co_return std::pair{Outcome::failed, 0};
    }
    for (;;) {
        ERR_clear_error();
        const int result = call(ssl_.get());
        if (result > 0) co_return std::pair{Outcome::done, result};
        const int error = SSL_get_error(ssl_.get(), result);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            const auto wait = error == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write;
            auto [wait_error] = co_await socket_.async_wait(wait, token);
            if (wait_error) {
                failure_ = wait_error == asio::error::operation_aborted ? "cancelled" : wait_error.message();
                co_return std::pair{Outcome::failed, 0};
            }
            continue;
        }
        if (error == SSL_ERROR_ZERO_RETURN) co_return std::pair{Outcome::closed, 0};
        if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            failure_ = errno != 0 ? std::strerror(errno) : "connection closed";
        } else {
            char text[256];
            ERR_error_string_n(ERR_get_error(), text, sizeof text);
            failure_ = text;
        }
        ERR_clear_error();
        co_return std::pair{Outcome::failed, 0};
    }
}

asio::awaitable<bool> TlsStream::handshake() {
    auto [outcome, result] = co_await drive([](SSL* ssl) { return SSL_accept(ssl); });
    if (outcome == Outcome::closed) failure_ = "closed during the handshake";
    co_return outcome == Outcome::done;
}

asio::awaitable<long> TlsStream::read_some(char* data, std::size_t size) {
    const int want = static_cast<int>(std::min<std::size_t>(size, std::numeric_limits<int>::max()));
    auto [outcome, result] = co_await drive([data, want](SSL* ssl) { return SSL_read(ssl, data, want); });
    if (outcome == Outcome::done) co_return result;
    co_return outcome == Outcome::closed ? 0 : -1;
}

asio::awaitable<bool> TlsStream::write_all(std::string_view data) {
    while (!data.empty()) {
        const int chunk = static_cast<int>(std::min<std::size_t>(data.size(), std::numeric_limits<int>::max()));
        write_pending_ = true;
        auto [outcome, written] = co_await drive([&data, chunk](SSL* ssl) { return SSL_write(ssl, data.data(), chunk); });
        write_pending_ = false;
        if (outcome != Outcome::done) co_return false;
        data.remove_prefix(static_cast<std::size_t>(written));
    }
    co_return true;
}

namespace {

TlsStream::Result attempt_of(SSL* ssl, int result) {
    if (result > 0) return {TlsStream::Attempt::done, static_cast<std::size_t>(result)};
    switch (SSL_get_error(ssl, result)) {
        case SSL_ERROR_WANT_READ: return {TlsStream::Attempt::want_read};
        case SSL_ERROR_WANT_WRITE: return {TlsStream::Attempt::want_write};
        case SSL_ERROR_ZERO_RETURN: return {TlsStream::Attempt::end};
        default:
            ERR_clear_error();
            return {TlsStream::Attempt::failed};
    }
}

}  // namespace

TlsStream::Result TlsStream::try_read(char* data, std::size_t size) {
    ERR_clear_error();
    return attempt_of(ssl_.get(), SSL_read(ssl_.get(), data, static_cast<int>(std::min<std::size_t>(size, std::numeric_limits<int>::max()))));
}

TlsStream::Result TlsStream::try_write(const char* data, std::size_t size) {
    ERR_clear_error();
    const Result result = attempt_of(ssl_.get(), SSL_write(ssl_.get(), data, static_cast<int>(std::min<std::size_t>(size, std::numeric_limits<int>::max()))));
    // Until the caller retries (write_all), the pending record blocks reads.
    write_pending_ = result.attempt == Attempt::want_read || result.attempt == Attempt::want_write;
    return result;
}

void TlsStream::close_notify() {
    if (!ssl_ || !SSL_is_init_finished(ssl_.get())) return;
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // queues and tries to send close_notify; the socket may be full, then it is dropped
    ERR_clear_error();
}

std::string TlsStream::alpn() const {
    const unsigned char* protocol = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_.get(), &protocol, &length);
    return std::string(reinterpret_cast<const char*>(protocol), length);
}

}  // namespace vhostd::server
