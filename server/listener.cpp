#include "server/listener.hpp"

#include "server/connection.hpp"
#include "server/front.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ip/v6_only.hpp>

#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdexcept>

namespace vhostd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr int listen_backlog = 4096;  // the kernel caps it at net.core.somaxconn

tcp::endpoint endpoint_of(const conf::Listener& config) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(config.endpoint.host, ec);
    if (ec) throw std::runtime_error("listener " + config.address + ": bad address: " + ec.message());
    return {address, config.endpoint.port};
}

}  // namespace

// The acceptor lives on its own strand: reload and shutdown close it from another thread.
Listener::Listener(Front& front, const conf::Listener& config)
    : front_(front), address_(config.address), acceptor_(asio::make_strand(front.io())) {
    const tcp::endpoint endpoint = endpoint_of(config);
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) acceptor_.set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(listen_backlog, ec);
    if (!ec) {
        // Accept a connection only once its first bytes are there (nginx's "deferred"): the
        // head is then usually complete at the first peek, which saves a wait per
        // connection, and a silent client costs the kernel, not the front. One that stays
        // silent is accepted after about a second and then gets head_timeout as usual.
        int seconds = 1;
        ::setsockopt(acceptor_.native_handle(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds);
    }
    if (ec) throw std::runtime_error("cannot listen on " + address_ + ": " + ec.message());
}

void Listener::start(unsigned accept_loops) {
    spdlog::info("listening on {}", address_);
    for (unsigned i = 0; i < accept_loops; ++i) asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void Listener::close() {
    asio::post(acceptor_.get_executor(), [this] {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
    });
}

asio::awaitable<void> Listener::accept_loop() {
    asio::steady_timer pause(acceptor_.get_executor());
    while (acceptor_.is_open()) {
        // The new socket belongs to the io_context, not to the acceptor's strand.
        auto [ec, socket] = co_await acceptor_.async_accept(front_.io(), asio::as_tuple(asio::use_awaitable));
        if (!ec) {
            asio::co_spawn(front_.io(), handle_connection(std::move(socket), front_), [](std::exception_ptr error) {
                if (!error) return;
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    spdlog::error("connection ended by an unexpected error: {}", e.what());
                }
            });
            continue;
        }
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
        // Out of fds or memory: leave the connection in the backlog and try again shortly
        // instead of spinning.
        spdlog::error("accept on {} failed: {}; retrying in 100ms", address_, ec.message());
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

}  // namespace vhostd::server
