#include "supervisor/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace vhostd::supervisor {

namespace {

// The raw capget/capset calls: two 32-bit words per set (version 3), no libcap needed.
struct Capabilities {
    __user_cap_data_struct words[2]{};
};

constexpr std::uint64_t bit(int capability) { return std::uint64_t{1} << capability; }
constexpr std::uint64_t kept = bit(CAP_SETUID) | bit(CAP_SETGID) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE);

std::uint64_t effective_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    Capabilities caps;
    if (::syscall(SYS_capget, &header, caps.words) != 0) return 0;
    return caps.words[0].effective | (std::uint64_t{caps.words[1].effective} << 32);
}

[[noreturn]] void user_switch_failed(const std::string& what) {
    throw std::runtime_error("[server] user: " + what + ": " + std::strerror(errno));
}

// Effective and permitted: `kept`; inheritable: none, so exec() gives workers none of them.
void set_kept_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    Capabilities caps;
    for (int word = 0; word < 2; ++word) {
        const auto mask = static_cast<std::uint32_t>(kept >> (32 * word));
        caps.words[word].effective = mask;
        caps.words[word].permitted = mask;
        caps.words[word].inheritable = 0;
    }
    if (::syscall(SYS_capset, &header, caps.words) != 0) user_switch_failed("keeping CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_NET_BIND_SERVICE");
}

}  // namespace

void drop_privileges(const std::string& user, const std::string& group) {
    const passwd* account = ::getpwnam(user.c_str());
    if (account == nullptr) throw std::runtime_error("[server] user: unknown user '" + user + "'");
    const uid_t uid = account->pw_uid;
    gid_t gid = account->pw_gid;
    if (!group.empty()) {
        const struct group* found = ::getgrnam(group.c_str());
        if (found == nullptr) throw std::runtime_error("[server] group: unknown group '" + group + "'");
        gid = found->gr_gid;
    }
    if (::geteuid() == uid && ::getegid() == gid && uid != 0) {
        // Started by an upgrade from a vhostd that had switched already: what it passed on
        // as ambient capabilities goes, so that workers start with none, and the process is
        // made undumpable again (exec reset that).
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) user_switch_failed("clearing ambient capabilities");
        set_kept_capabilities();
        ::prctl(PR_SET_DUMPABLE, 0);
        return;
    }
    if (::geteuid() != 0) throw std::runtime_error("[server] user: vhostd must be started as root to switch to '" + user + "'");

    // Keep the permitted capabilities across the uid change, then narrow them to `kept`.
    if (::prctl(PR_SET_KEEPCAPS, 1) != 0) user_switch_failed("keeping capabilities");
    if (::setgroups(1, &gid) != 0 || ::setresgid(gid, gid, gid) != 0) user_switch_failed("switching group");
    if (::setresuid(uid, uid, uid) != 0) user_switch_failed("switching user");
    set_kept_capabilities();
    ::prctl(PR_SET_KEEPCAPS, 0);
    // The uid change also left the process undumpable: workers running as the same user
    // can neither trace it nor open what it has open through /proc.
}

bool can_switch_users() {
    const std::uint64_t needed = bit(CAP_SETUID) | bit(CAP_SETGID);
    return ::geteuid() == 0 || (effective_capabilities() & needed) == needed;
}

void keep_capabilities_across_exec() noexcept {
    if (::geteuid() == 0) return;  // root keeps everything across exec anyway
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    Capabilities caps;
    if (::syscall(SYS_capget, &header, caps.words) != 0) return;
    // A capability can be ambient only while it is permitted and inheritable.
    for (auto& word : caps.words) word.inheritable = word.permitted;
    if (::syscall(SYS_capset, &header, caps.words) != 0) return;
    for (int capability : {CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_NET_BIND_SERVICE}) {
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability, 0, 0);  // fails harmlessly for one not permitted
    }
}

}  // namespace vhostd::supervisor
