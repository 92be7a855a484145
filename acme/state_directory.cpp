#include "acme/state_directory.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace vhostd::acme {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what, const fs::path& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path.string());
}

void write_all(int fd, std::string_view bytes, const fs::path& path) {
    while (!bytes.empty()) {
        const ssize_t written = ::write(fd, bytes.data(), bytes.size());
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) fail("cannot write", path);
        bytes.remove_prefix(static_cast<std::size_t>(written));
    }
}

void sync_directory(const fs::path& directory) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail("cannot open", directory);
    const int synced = ::fsync(fd);
    ::close(fd);
    if (synced != 0) fail("cannot fsync", directory);
}

}  // namespace

void write_private_file(const fs::path& path, std::string_view bytes) {
    const fs::path directory = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    std::string temporary = (directory / ("." + path.filename().string() + ".XXXXXX")).string();
    const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);  // mode 0600
    if (fd < 0) fail("cannot create a temporary file beside", path);
    try {
        write_all(fd, bytes, temporary);
        if (::fsync(fd) != 0) fail("cannot fsync", temporary);
        if (::close(fd) != 0) {
            ::unlink(temporary.c_str());
            fail("cannot close", temporary);
        }
    } catch (...) {
        ::close(fd);
        ::unlink(temporary.c_str());
        throw;
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        errno = error;
        fail("cannot rename a temporary file to", path);
    }
    sync_directory(directory);
}

std::optional<std::string> read_private_file(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt;
        fail("cannot open", path);
    }
    std::string contents;
    char chunk[8192];
    for (;;) {
        const ssize_t got = ::read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            const int error = errno;
            ::close(fd);
            errno = error;
            fail("cannot read", path);
        }
        if (got == 0) break;
        contents.append(chunk, static_cast<std::size_t>(got));
    }
    ::close(fd);
    return contents;
}

std::optional<StateLock> StateLock::acquire(const fs::path& directory, std::string& problem) {
    std::error_code ec;
    fs::create_directories(directory, ec);
    if (ec) {
        problem = "cannot create the ACME state directory " + directory.string() + ": " + ec.message();
        return std::nullopt;
    }
    fs::permissions(directory, fs::perms::owner_all, fs::perm_options::replace, ec);
    const fs::path lock_path = directory / "lock";
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        problem = "cannot open " + lock_path.string() + ": " + std::generic_category().message(errno);
        return std::nullopt;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        char holder[32] = {};
        const ssize_t got = ::pread(fd, holder, sizeof holder - 1, 0);
        ::close(fd);
        problem = error == EWOULDBLOCK ? "the ACME state directory " + directory.string() + " is in use by another vhostd" +
                                             (got > 0 ? " (pid " + std::string(holder, static_cast<std::size_t>(got)) + ")" : "")
                                       : "cannot lock " + lock_path.string() + ": " + std::generic_category().message(error);
        return std::nullopt;
    }
    const std::string pid = std::to_string(::getpid());
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        // The lock holds without the pid; only the message to another vhostd is poorer.
    }
    return StateLock(fd);
}

StateLock::~StateLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace vhostd::acme
