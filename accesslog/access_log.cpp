#include "accesslog/access_log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>

namespace vhostd::accesslog {

namespace {

constexpr std::size_t queue_lines = 16384;

struct Log {
    std::shared_ptr<spdlog::logger> logger;
    bool json = false;
};

std::atomic<std::shared_ptr<const Log>> current;

// JSON string contents: quotes, backslashes and control characters escaped.
std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
            out += c;
        }
    }
    return out;
}

std::string_view or_dash(std::string_view text) { return text.empty() ? std::string_view("-") : text; }

}  // namespace

void open(const std::string& path, bool json) {
    try {
        static std::once_flag pool_once;
        std::call_once(pool_once, [] { spdlog::init_thread_pool(queue_lines, 1); });
        auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
        auto logger = std::make_shared<spdlog::async_logger>("access", std::move(sink), spdlog::thread_pool(),
                                                             spdlog::async_overflow_policy::overrun_oldest);
        logger->set_pattern(json ? R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z",%v})" : "%Y-%m-%dT%H:%M:%S.%e%z %v");
        logger->flush_on(spdlog::level::info);
        current.store(std::make_shared<const Log>(Log{std::move(logger), json}));
    } catch (const spdlog::spdlog_ex& e) {
        throw std::runtime_error("cannot open the access log " + path + ": " + e.what());
    }
}

void close() { current.store(nullptr); }

bool enabled() { return current.load() != nullptr; }

void write(const Entry& entry) {
    const std::shared_ptr<const Log> log = current.load();
    if (!log) return;
    if (log->json) {
        log->logger->info(R"("client":"{}:{}","host":"{}","site":"{}","worker_pid":{},"outcome":"{}","handoff_us":{:.1f})",
                          escape(entry.client_address), entry.client_port, escape(entry.host), escape(entry.site), entry.worker_pid,
                          escape(entry.outcome), entry.handoff_us);
    } else {
        const bool v6 = entry.client_address.find(':') != std::string_view::npos;
        log->logger->info("{}{}{}:{} {} {} {} {} {:.1f}us", v6 ? "[" : "", entry.client_address, v6 ? "]" : "", entry.client_port,
                          or_dash(entry.host), or_dash(entry.site), entry.worker_pid, entry.outcome, entry.handoff_us);
    }
}

}  // namespace vhostd::accesslog
