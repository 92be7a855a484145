#include "supervisor/output_log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <array>

namespace vhostd::supervisor {

namespace asio = boost::asio;

namespace {

constexpr std::size_t max_line = 8 * 1024;  // longer lines are logged in pieces

asio::awaitable<void> copy_lines(asio::posix::stream_descriptor pipe, std::string prefix, bool is_stderr) {
    const auto level = is_stderr ? spdlog::level::warn : spdlog::level::info;
    std::array<char, 4096> chunk;
    std::string pending;
    for (;;) {
        auto [ec, n] = co_await pipe.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        pending.append(chunk.data(), n);
        std::size_t start = 0;
        for (std::size_t newline; (newline = pending.find('\n', start)) != std::string::npos; start = newline + 1) {
            spdlog::log(level, "[{}] {}", prefix, std::string_view(pending).substr(start, newline - start));
        }
        pending.erase(0, start);
        if (pending.size() >= max_line) {
            spdlog::log(level, "[{}] {}", prefix, pending);
            pending.clear();
        }
    }
    if (!pending.empty()) spdlog::log(level, "[{}] {}", prefix, pending);
}

}  // namespace

void start_output_log(asio::any_io_executor executor, protocol::FileDescriptor pipe, std::string prefix, bool is_stderr) {
    asio::posix::stream_descriptor descriptor(executor, pipe.release());
    asio::co_spawn(executor, copy_lines(std::move(descriptor), std::move(prefix), is_stderr), asio::detached);
}

}  // namespace vhostd::supervisor
