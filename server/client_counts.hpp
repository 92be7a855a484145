// What slow or hostile clients hold of the front, counted per client address, so that caps
// keep one client (or many) from exhausting it: connections waiting for their head, in all
// and per address, and connections per address the front holds (waiting or TLS-relayed).
// Thread-safe; only connections that wait take a slot, so the usual connection, whose head
// is complete at the first peek, never touches it.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace vhostd::server {

struct ClientCaps {
    std::size_t max_waiting = 10'000;
    std::size_t max_waiting_per_ip = 256;
    std::size_t max_held_per_ip = 1024;
};

class ClientCounts {
public:
    using Key = std::array<unsigned char, 16>;  // IPv4 as IPv4-mapped IPv6

    // One connection's place in the counts, given back when it is destroyed.
    class Slot {
    public:
        Slot() = default;
        Slot(Slot&& other) noexcept { *this = std::move(other); }
        Slot& operator=(Slot&& other) noexcept;
        ~Slot() { release(); }
        explicit operator bool() const { return owner_ != nullptr; }
        // The head is complete: the connection stops counting as waiting, and stays held
        // (a TLS relay) until the slot is destroyed.
        void stop_waiting();

    private:
        friend class ClientCounts;
        void release();
        ClientCounts* owner_ = nullptr;
        Key key_{};
        bool waiting_ = false;
    };

    enum class Refusal { none, waiting, waiting_per_ip, held_per_ip };
    struct Admission {
        Slot slot;          // empty when refused
        Refusal refusal = Refusal::none;
    };

    // A slot for a connection from `client` that starts to wait for its head, unless that
    // would pass one of `caps`.
    Admission admit(const boost::asio::ip::address& client, const ClientCaps& caps);

    std::size_t waiting() const;

private:
    struct KeyHash {
        std::size_t operator()(const Key& key) const noexcept;
    };
    struct Counts {
        std::uint32_t waiting = 0;
        std::uint32_t held = 0;
    };

    mutable std::mutex mutex_;
    std::unordered_map<Key, Counts, KeyHash> by_client_;
    std::size_t waiting_ = 0;
};

const char* describe(ClientCounts::Refusal refusal);

}  // namespace vhostd::server
