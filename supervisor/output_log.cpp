#include "supervisor/output_log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>

#include <array>
#include <filesystem>

namespace vhostd::supervisor {

namespace asio = boost::asio;

namespace {

constexpr std::size_t max_line = 8 * 1024;  // longer lines are logged in pieces

asio::awaitable<void> copy_lines(asio::posix::stream_descriptor pipe, std::string prefix, bool is_stderr,
                                 std::shared_ptr<spdlog::logger> site_log) {
    const auto level = is_stderr ? spdlog::level::warn : spdlog::level::info;
    auto emit = [&](std::string_view line) {
        spdlog::log(level, "[{}] {}", prefix, line);
        if (site_log) site_log->log(level, "[{}] {}", prefix, line);
    };
    std::array<char, 4096> chunk;
    std::string pending;
    for (;;) {
        auto [ec, n] = co_await pipe.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        pending.append(chunk.data(), n);
        std::size_t start = 0;
        for (std::size_t newline; (newline = pending.find('\n', start)) != std::string::npos; start = newline + 1) {
            emit(std::string_view(pending).substr(start, newline - start));
        }
        pending.erase(0, start);
        if (pending.size() >= max_line) {
            emit(pending);
            pending.clear();
        }
    }
    if (!pending.empty()) emit(pending);
    if (site_log) site_log->flush();
}

}  // namespace

void start_output_log(asio::any_io_executor executor, protocol::FileDescriptor pipe, std::string prefix, bool is_stderr,
                      std::shared_ptr<spdlog::logger> site_log) {
    asio::posix::stream_descriptor descriptor(executor, pipe.release());
    asio::co_spawn(executor, copy_lines(std::move(descriptor), std::move(prefix), is_stderr, std::move(site_log)), asio::detached);
}

std::shared_ptr<spdlog::logger> open_site_log(const std::string& log_dir, const std::string& site, std::uint64_t max_size,
                                              unsigned files) {
    if (log_dir.empty()) return nullptr;
    try {
        std::filesystem::create_directories(log_dir);
        auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>((std::filesystem::path(log_dir) / (site + ".log")).string(),
                                                                           max_size, files - 1);
        auto logger = std::make_shared<spdlog::logger>("site:" + site, std::move(sink));
        logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
        logger->flush_on(spdlog::level::info);
        return logger;
    } catch (const std::exception& e) {
        spdlog::error("site {}: cannot open its log file in {}: {}; its output goes to vhostd's log only", site, log_dir, e.what());
        return nullptr;
    }
}

}  // namespace vhostd::supervisor
