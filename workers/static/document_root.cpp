#include "workers/static/document_root.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vhostd::static_files {
namespace {

// glibc 2.36 has no wrapper for openat2.
int open_beneath_raw(int directory, const char* relative) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;  // O_NONBLOCK: a FIFO must not block us
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    int fd = -1;
    // The kernel asks for a retry when a rename raced the lookup; a few are plenty.
    for (int attempt = 0; attempt < 4; ++attempt) {
        fd = static_cast<int>(::syscall(SYS_openat2, directory, relative, &how, sizeof how));
        if (fd >= 0 || errno != EAGAIN) break;
    }
    return fd;
}

Lookup::Outcome outcome_of(int error) {
    return error == EACCES || error == EPERM ? Lookup::Outcome::forbidden : Lookup::Outcome::not_found;
}

}  // namespace

DocumentRoot::DocumentRoot(const std::string& path, std::vector<std::string> index_names)
    : root_(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)), index_names_(std::move(index_names)) {
    if (!root_) throw std::runtime_error("cannot open the root " + path + ": " + std::strerror(errno));
    // Without openat2 (Linux < 5.6, or a seccomp filter that forbids it) every request would
    // fail: say so once, at start.
    const FileDescriptor probe(open_beneath_raw(root_.get(), "."));
    if (!probe) throw std::runtime_error(std::string("openat2 is not available: ") + std::strerror(errno) + " (Linux 5.6 or later is needed)");
}

Lookup DocumentRoot::open_beneath(int directory, const std::string& relative) const {
    Lookup lookup;
    lookup.file.reset(open_beneath_raw(directory, relative.empty() ? "." : relative.c_str()));
    if (!lookup.file) {
        lookup.outcome = outcome_of(errno);
        return lookup;
    }
    struct stat info{};
    if (::fstat(lookup.file.get(), &info) != 0) {
        lookup.file.reset();
        return lookup;
    }
    lookup.size = static_cast<std::uint64_t>(info.st_size);
    lookup.modified = info.st_mtim;
    lookup.name = relative;
    lookup.outcome = S_ISREG(info.st_mode) || S_ISDIR(info.st_mode) ? Lookup::Outcome::found : Lookup::Outcome::not_found;
    if (lookup.outcome != Lookup::Outcome::found) lookup.file.reset();
    return lookup;
}

Lookup DocumentRoot::find(const RequestPath& path) const {
    Lookup lookup = open_beneath(root_.get(), path.relative);
    if (lookup.outcome != Lookup::Outcome::found) return lookup;
    struct stat info{};
    ::fstat(lookup.file.get(), &info);
    if (S_ISREG(info.st_mode)) {
        // "/page.html/" names a directory that is not there.
        if (path.directory_form && !path.relative.empty()) return Lookup{};
        return lookup;
    }
    if (!path.directory_form) {
        Lookup redirect;
        redirect.outcome = Lookup::Outcome::add_slash;
        return redirect;
    }
    for (const std::string& index : index_names_) {
        Lookup found = open_beneath(lookup.file.get(), index);
        if (found.outcome == Lookup::Outcome::found) {
            if (::fstat(found.file.get(), &info) == 0 && S_ISREG(info.st_mode)) return found;
            continue;
        }
        if (found.outcome == Lookup::Outcome::forbidden) return found;
    }
    return Lookup{};  // no index file: directory listings are not offered
}

}  // namespace vhostd::static_files
