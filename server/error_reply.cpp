#include "server/error_reply.hpp"

#include "server/error_response.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>

namespace vhostd::server {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto write_timeout = std::chrono::seconds(5);
constexpr auto linger_timeout = std::chrono::seconds(2);
constexpr std::size_t linger_max_bytes = 1024 * 1024;

}  // namespace

asio::awaitable<void> linger_before_close(asio::ip::tcp::socket& socket) {
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    asio::steady_timer deadline(socket.get_executor());
    boost::system::error_code ignored;
    socket.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    deadline.expires_after(linger_timeout);
    std::array<char, 4096> discard;
    for (std::size_t drained = 0; drained < linger_max_bytes;) {
        auto read = co_await (socket.async_read_some(asio::buffer(discard), token) || deadline.async_wait(token));
        if (read.index() != 0) break;
        auto [ec, n] = std::get<0>(read);
        if (ec) break;
        drained += n;
    }
}

asio::awaitable<void> reply_and_close(asio::ip::tcp::socket socket, std::string response) {
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    asio::steady_timer deadline(socket.get_executor());
    deadline.expires_after(write_timeout);
    auto written = co_await (asio::async_write(socket, asio::buffer(response), token) || deadline.async_wait(token));
    if (written.index() == 0 && !std::get<0>(std::get<0>(written))) co_await linger_before_close(socket);
    boost::system::error_code ignored;
    socket.close(ignored);
}

}  // namespace vhostd::server
