// Copies a worker's stdout or stderr into vhostd's log, one line at a time, prefixed with the
// site and pid so that many sites' output can share one log.
#pragma once

#include "protocol/file_descriptor.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <string>

namespace vhostd::supervisor {

// Reads `pipe` until every writer has closed it (the worker and any child it left behind).
void start_output_log(boost::asio::any_io_executor executor, protocol::FileDescriptor pipe, std::string prefix, bool is_stderr);

}  // namespace vhostd::supervisor
