#include "supervisor/file_watcher.hpp"

#include <sys/inotify.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace vhostd::supervisor {

namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t watched_events =
    IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF;

bool skipped(const fs::path& directory) {
    const std::string name = directory.filename().string();
    return name == "node_modules" || (name.size() > 1 && name.front() == '.');
}

int open_inotify() {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) throw std::runtime_error(std::string("inotify_init1: ") + std::strerror(errno));
    return fd;
}

}  // namespace

FileWatcher::FileWatcher(boost::asio::any_io_executor executor, const std::vector<std::string>& roots,
                         std::chrono::milliseconds debounce, std::function<void(const std::string&)> on_settled)
    : inotify_(executor, open_inotify()),
      settle_(executor),
      debounce_(debounce),
      on_settled_(std::move(on_settled)),
      roots_(roots),
      buffer_(64 * 1024) {
    for (const std::string& root : roots_) add_tree(root);
    read_events();
}

FileWatcher::~FileWatcher() {
    boost::system::error_code ignored;
    settle_.cancel();
    inotify_.close(ignored);
}

void FileWatcher::add_tree(const std::string& directory) {
    std::error_code error;
    if (!fs::is_directory(directory, error)) {
        spdlog::warn("watch: {} is not a directory; not watched", directory);
        return;
    }
    const int wd = ::inotify_add_watch(inotify_.native_handle(), directory.c_str(), watched_events);
    if (wd < 0) {
        spdlog::warn("watch: cannot watch {}: {}", directory, std::strerror(errno));
        return;
    }
    directories_[wd] = directory;
    for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
        if (it->is_directory(error) && !it->is_symlink(error) && !skipped(it->path())) add_tree(it->path().string());
    }
}

void FileWatcher::read_events() {
    inotify_.async_read_some(boost::asio::buffer(buffer_), [this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec,
                                                                                                        std::size_t length) {
        if (alive.expired()) return;
        if (ec) {
            if (ec != boost::asio::error::operation_aborted) spdlog::warn("watch: reading inotify failed: {}", ec.message());
            return;
        }
        for (std::size_t offset = 0; offset + sizeof(inotify_event) <= length;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer_.data() + offset);
            offset += sizeof(inotify_event) + event->len;
            if (event->mask & IN_Q_OVERFLOW) {
                // Events were lost, new directories among them: watch the trees again.
                for (const std::string& root : roots_) add_tree(root);
                last_changed_ = roots_.empty() ? std::string() : roots_.front();
                arm_settle();
                continue;
            }
            const auto directory = directories_.find(event->wd);
            if (directory == directories_.end()) continue;
            const std::string name = event->len > 0 ? std::string(event->name) : std::string();
            const fs::path path = fs::path(directory->second) / name;
            if (event->mask & IN_IGNORED) {
                directories_.erase(directory);
                continue;
            }
            // A new directory is watched too, with what was created in it meanwhile.
            if ((event->mask & IN_ISDIR) && (event->mask & (IN_CREATE | IN_MOVED_TO)) && !skipped(path)) add_tree(path.string());
            if (!name.empty() && name.front() == '.') continue;  // editors' swap and lock files
            last_changed_ = path.string();
            arm_settle();
        }
        read_events();
    });
}

// Each change restarts the wait: the callback runs once nothing has changed for `debounce_`.
void FileWatcher::arm_settle() {
    const std::uint64_t change = ++changes_;
    settle_.expires_after(debounce_);
    settle_.async_wait([this, change, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
        // A wait that completed just before a newer change was queued is stale too.
        if (ec || alive.expired() || change != changes_) return;
        on_settled_(last_changed_);
    });
}

}  // namespace vhostd::supervisor
