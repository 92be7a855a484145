// The ACME state directory on disk: the account key and each certificate's chain and key.
// Files are written atomically (a temporary file in the same directory, fsync, rename, fsync
// of the directory) with mode 0600, so that a crash leaves the old file or the new one, never
// half of one; errors name the path, never the contents. One vhostd at a time: a lock.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace vhostd::acme {

// Replaces `path` with `bytes`. Throws std::system_error naming the path and the step.
void write_private_file(const std::filesystem::path& path, std::string_view bytes);
// The whole file, or nullopt when it does not exist. Throws for other errors.
std::optional<std::string> read_private_file(const std::filesystem::path& path);

// Holds `directory`/lock (flock) for as long as it lives; creates the directory (0700).
class StateLock {
public:
    // nullopt, with why in `problem` (naming the directory, and the pid that holds it), when
    // another process holds the lock or the directory cannot be used.
    static std::optional<StateLock> acquire(const std::filesystem::path& directory, std::string& problem);
    StateLock(StateLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    StateLock& operator=(StateLock&&) = delete;
    ~StateLock();

private:
    explicit StateLock(int fd) : fd_(fd) {}
    int fd_;
};

}  // namespace vhostd::acme
