// The directory vhostd-static serves, and the lookup of a request path inside it.
#pragma once

#include "protocol/file_descriptor.hpp"
#include "workers/static/request_path.hpp"

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace vhostd::static_files {

using protocol::FileDescriptor;

struct Lookup {
    enum class Outcome {
        found,        // `file` is open for reading
        not_found,    // also for what may not be shown: escapes, special files
        forbidden,    // the file exists but we may not read it
        add_slash,    // a directory asked for without its trailing '/': redirect
    } outcome = Outcome::not_found;
    FileDescriptor file;
    std::uint64_t size = 0;
    std::timespec modified{};
    std::string name;  // the file's name, for its Content-Type (the index file's for a directory)
};

class DocumentRoot {
public:
    // Throws std::runtime_error when `path` is not a directory we can open.
    DocumentRoot(const std::string& path, std::vector<std::string> index_names);

    // Opens the file with openat2(RESOLVE_BENEATH): the kernel refuses any path, symbolic
    // links included, that would leave the root, so no check here can be raced.
    Lookup find(const RequestPath& path) const;

private:
    Lookup open_beneath(int directory, const std::string& relative) const;

    FileDescriptor root_;
    std::vector<std::string> index_names_;
};

}  // namespace vhostd::static_files
