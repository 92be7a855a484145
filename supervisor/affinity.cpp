#include "supervisor/affinity.hpp"

#include "http/cookie.hpp"

namespace vhostd::supervisor {

namespace {

// FNV-1a, then a 64-bit finaliser so that similar session ids land far apart.
std::uint64_t hash_of(std::string_view text) {
    std::uint64_t hash = 0xcbf29ce484222325u;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3u;
    }
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdu;
    hash ^= hash >> 33;
    return hash;
}

// "0" … "255": a slot the client names.
std::optional<std::uint64_t> slot_number(std::string_view value) {
    if (value.empty() || value.size() > 3) return std::nullopt;
    std::uint64_t number = 0;
    for (const char c : value) {
        if (c < '0' || c > '9') return std::nullopt;
        number = number * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (number >= conf::max_pool_size) return std::nullopt;
    return number;
}

}  // namespace

std::optional<protocol::AffinityKey> affinity_key(const conf::Affinity& affinity, std::string_view client_address,
                                                  std::string_view http_head) {
    switch (affinity.by) {
        case conf::Affinity::By::none: return std::nullopt;
        case conf::Affinity::By::client: {
            // A client reaching a dual-stack listener over IPv4 is the same client.
            constexpr std::string_view v4_mapped = "::ffff:";
            if (client_address.starts_with(v4_mapped) && client_address.find('.') != std::string_view::npos) {
                client_address.remove_prefix(v4_mapped.size());
            }
            return protocol::AffinityKey{.value = hash_of(client_address), .names_slot = false};
        }
        case conf::Affinity::By::cookie: {
            const auto value = http::cookie_value(http_head, affinity.cookie);
            if (!value) return std::nullopt;
            if (const auto slot = slot_number(*value)) return protocol::AffinityKey{.value = *slot, .names_slot = true};
            return protocol::AffinityKey{.value = hash_of(*value), .names_slot = false};
        }
    }
    return std::nullopt;
}

// Jump consistent hashing (Lamping and Veach, 2014): the key walks a pseudo-random sequence
// of slots, each jump taken with the probability that keeps every slot equally likely.
unsigned affinity_slot(protocol::AffinityKey key, unsigned slots) {
    if (key.names_slot && key.value < slots) return static_cast<unsigned>(key.value);
    std::uint64_t walk = key.value;  // a named slot past the pool's end is read as a hash
    std::int64_t slot = -1;
    std::int64_t next = 0;
    while (next < static_cast<std::int64_t>(slots)) {
        slot = next;
        walk = walk * 2862933555777941757u + 1;
        next = static_cast<std::int64_t>(static_cast<double>(slot + 1) *
                                         (static_cast<double>(std::int64_t{1} << 31) / static_cast<double>((walk >> 33) + 1)));
    }
    return slot < 0 ? 0 : static_cast<unsigned>(slot);
}

}  // namespace vhostd::supervisor
