// An address as text ("127.0.0.1", "::1"), as address::to_string() writes it, for the
// handoff of every connection: IPv4 is formatted here, where glibc's inet_ntop goes
// through sprintf. Pure.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <string>

namespace vhostd::server {

std::string address_text(const boost::asio::ip::address& address);

}  // namespace vhostd::server
