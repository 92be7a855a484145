// Watches directory trees with inotify and calls back once changes have settled: after
// `debounce` with no further change, so that a save that touches many files, or an editor
// writing continuously, causes one callback rather than a storm.
#pragma once

#include "protocol/file_descriptor.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vhostd::supervisor {

class FileWatcher {
public:
    // Watches every directory under `roots` (dot directories and node_modules are skipped:
    // they change without the app changing). Throws std::runtime_error when inotify fails.
    FileWatcher(boost::asio::any_io_executor executor, const std::vector<std::string>& roots, std::chrono::milliseconds debounce,
                std::function<void(const std::string& changed)> on_settled);
    ~FileWatcher();
    FileWatcher(const FileWatcher&) = delete;
    FileWatcher& operator=(const FileWatcher&) = delete;

private:
    void add_tree(const std::string& directory);
    void read_events();
    void arm_settle();

    boost::asio::posix::stream_descriptor inotify_;
    boost::asio::steady_timer settle_;
    std::chrono::milliseconds debounce_;
    std::function<void(const std::string&)> on_settled_;
    std::vector<std::string> roots_;
    std::map<int, std::string> directories_;  // watch descriptor -> path
    std::string last_changed_;
    std::uint64_t changes_ = 0;               // a settle wait fires only if none came after it
    std::vector<char> buffer_;
    // Handlers hold it weakly: one already queued when the watcher is destroyed must not run.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace vhostd::supervisor
