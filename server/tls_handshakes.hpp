// The TLS handshakes one front thread has in progress, oldest first, with a cap. A handshake
// costs the front ~45 KB while it waits for the client's second flight (OpenSSL keeps a
// 16 KiB message buffer and the key schedule), twenty times a connection waiting for a
// plain head. Past the cap the oldest is dropped: an honest client finishes within a round
// trip, so the one that has waited longest is the likeliest to be stalling on purpose.
// Single-threaded: all of it runs on the thread that owns the connections.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <cstddef>

namespace vhostd::server {

class TlsHandshakes {
public:
    // One handshake, for as long as it is in progress. Making one when `cap` are in progress
    // drops the oldest: its socket's pending wait is cancelled and dropped() turns true.
    class Entry {
    public:
        Entry(TlsHandshakes& owner, boost::asio::ip::tcp::socket& socket, std::size_t cap);
        ~Entry();
        Entry(const Entry&) = delete;
        Entry& operator=(const Entry&) = delete;

        bool dropped() const { return dropped_; }

    private:
        friend class TlsHandshakes;
        TlsHandshakes& owner_;
        boost::asio::ip::tcp::socket& socket_;
        bool dropped_ = false;
        Entry* previous_ = nullptr;
        Entry* next_ = nullptr;
    };

    std::size_t in_progress() const { return count_; }

private:
    void unlink(Entry& entry);

    Entry* first_ = nullptr;  // the oldest
    Entry* last_ = nullptr;
    std::size_t count_ = 0;   // linked entries; a dropped one is unlinked at once
};

}  // namespace vhostd::server
