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

}  // namespace

std::optional<std::uint64_t> affinity_key(const conf::Affinity& affinity, std::string_view client_address,
                                          std::string_view http_head) {
    switch (affinity.by) {
        case conf::Affinity::By::none: return std::nullopt;
        case conf::Affinity::By::client: return hash_of(client_address);
        case conf::Affinity::By::cookie:
            if (const auto value = http::cookie_value(http_head, affinity.cookie)) return hash_of(*value);
            return std::nullopt;
    }
    return std::nullopt;
}

// Jump consistent hashing (Lamping and Veach, 2014): the key walks a pseudo-random sequence
// of slots, each jump taken with the probability that keeps every slot equally likely.
unsigned affinity_slot(std::uint64_t key, unsigned slots) {
    std::int64_t slot = -1;
    std::int64_t next = 0;
    while (next < static_cast<std::int64_t>(slots)) {
        slot = next;
        key = key * 2862933555777941757u + 1;
        next = static_cast<std::int64_t>(static_cast<double>(slot + 1) *
                                         (static_cast<double>(std::int64_t{1} << 31) / static_cast<double>((key >> 33) + 1)));
    }
    return slot < 0 ? 0 : static_cast<unsigned>(slot);
}

}  // namespace vhostd::supervisor
