// Copies a worker's stdout or stderr into vhostd's log, one line at a time, prefixed with the
// site and pid so that many sites' output can share one log.
#pragma once

#include "protocol/file_descriptor.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace vhostd::supervisor {

// Reads `pipe` until every writer has closed it (the worker and any child it left behind).
// Lines go to vhostd's log and, when there is one, to the site's own log file.
void start_output_log(boost::asio::any_io_executor executor, protocol::FileDescriptor pipe, std::string prefix, bool is_stderr,
                      std::shared_ptr<spdlog::logger> site_log);

// The site's own log file, <log_dir>/<site>.log, rotated by size; null when log_dir is unset.
std::shared_ptr<spdlog::logger> open_site_log(const std::string& log_dir, const std::string& site, std::uint64_t max_size,
                                              unsigned files);

}  // namespace vhostd::supervisor
