// The identity and the privileges of the container's process: bounding set, uid/gid/groups,
// no_new_privs, the capability sets, the seccomp filter - in the one order that works.
//
// Root inside a container is uid 0 with fewer capabilities: the kernel checks capabilities, not
// the uid, for nearly everything that matters (mount needs CAP_SYS_ADMIN, raw sockets
// CAP_NET_RAW, ...). Five sets per thread: bounding (the ceiling, for good), permitted,
// effective (what is checked), inheritable and ambient (what survives execve).
// See capabilities(7), capset(2), prctl(2), setresuid(2), and security.hpp for the order.
#include "security.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "error.hpp"
#include "narrate.hpp"
#include "seccomp.hpp"

namespace security {

namespace {

constexpr std::string_view kLayer = "security";

std::string spell_cap(int cap) {
    std::string name = spec::capability_name(cap);
    return name.empty() ? "cap " + std::to_string(cap) : name;
}

bool has(const std::vector<int>& set, int cap) { return std::find(set.begin(), set.end(), cap) != set.end(); }

// "CAP_CHOWN|CAP_KILL|CAP_SETUID|... (14)" - the first few names, then the count, so one line
// stays readable; "none" for an empty set.
std::string spell_caps(const std::vector<int>& caps) {
    if (caps.empty()) return "none";
    constexpr size_t shown = 3;
    std::string out;
    for (size_t i = 0; i < caps.size() && i < shown; ++i) out += (i ? "|" : "") + spell_cap(caps[i]);
    if (caps.size() > shown) out += fmt::format("|... ({})", caps.size());
    return out;
}

// The two 32-bit words capset(2) takes for one set (capabilities 0-31 and 32-63).
void to_words(const std::vector<int>& caps, __u32 (&words)[2]) {
    words[0] = words[1] = 0;
    for (int c : caps) words[c / 32] |= 1u << (c % 32);
}

// capset(2) has no glibc wrapper: version 3 of the header takes two data structs, one per
// 32-bit half. pid 0 = this thread.
long raw_capset(const spec::Capabilities& caps) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __u32 eff[2], prm[2], inh[2];
    to_words(caps.effective, eff);
    to_words(caps.permitted, prm);
    to_words(caps.inheritable, inh);
    __user_cap_data_struct data[2];
    for (int i = 0; i < 2; ++i) data[i] = {eff[i], prm[i], inh[i]};
    return syscall(SYS_capset, &header, data);
}

void drop_bounding(const std::vector<int>& keep) {
    int last = spec::last_capability();
    std::vector<int> drop;
    // A capability already gone from the bounding set (a parent dropped it) needs no drop; and
    // reading first lets a process without CAP_SETPCAP keep a set it already has.
    for (int c = 0; c <= last; ++c)
        if (!has(keep, c) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) drop.push_back(c);
    if (drop.empty()) return;
    narrate::Op op{kLayer,
                   fmt::format("prctl(PR_CAPBSET_DROP, ...) for {} capabilities, keeping {}", drop.size(), spell_caps(keep)),
                   "the bounding set is the ceiling: no execve, not even of a setuid-root file, can gain a capability above it",
                   "grep CapBnd /proc/{pid}/status"};
    narrate::before(op);
    for (int c : drop) {
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1) {
            int err = errno;
            narrate::after(op, "-1");
            throw SysError("prctl(PR_CAPBSET_DROP, " + spell_cap(c) + ")", err);
        }
    }
    narrate::after(op, "0");
}

std::string join_ids(const std::vector<gid_t>& ids) {
    std::string out;
    for (auto id : ids) out += (out.empty() ? "" : ", ") + std::to_string(id);
    return out;
}

// In a user namespace whose gid_map was written without privilege, the kernel forbids
// setgroups for good (/proc/self/setgroups says "deny"), or dropping a group could grant access.
bool setgroups_denied() {
    std::ifstream f("/proc/self/setgroups");
    std::string word;
    return f >> word && word == "deny";
}

void set_identity(const spec::User& user) {
    if (setgroups_denied()) {
        if (!user.additional_gids.empty())
            throw Error("setgroups([" + join_ids(user.additional_gids) + "]): not permitted in this user namespace")
                .with_hint("/proc/self/setgroups is \"deny\"; remove process.user.additionalGids");
        narrate::note(kLayer, "setgroups skipped: /proc/self/setgroups is \"deny\" in this user namespace");
    } else {
        // An empty list matters too: root's own supplementary groups (often several) must not leak in.
        narrate::sys({kLayer, "setgroups([" + join_ids(user.additional_gids) + "])",
                      "the supplementary groups are process.user.additionalGids and nothing of the runtime's",
                      "grep Groups /proc/{pid}/status"},
                     [&] { return setgroups(user.additional_gids.size(), user.additional_gids.data()); });
    }
    narrate::sys({kLayer, fmt::format("setresgid({0}, {0}, {0})", user.gid), "real, effective and saved gid",
                  "grep Gid /proc/{pid}/status"},
                 [&] { return setresgid(user.gid, user.gid, user.gid); });
    narrate::sys({kLayer, fmt::format("setresuid({0}, {0}, {0})", user.uid),
                  user.uid == 0 ? "stays root; the capability sets below decide what root may do"
                                : "KEEPCAPS kept the permitted set; the kernel cleared the effective one",
                  "grep Uid /proc/{pid}/status"},
                 [&] { return setresuid(user.uid, user.uid, user.uid); });
}

void set_capabilities(const spec::Capabilities& caps) {
    std::string perm = caps.permitted == caps.effective ? "same" : spell_caps(caps.permitted);
    try {
        narrate::sys({kLayer,
                      fmt::format("capset(effective={}, permitted={}, inheritable={})", spell_caps(caps.effective), perm,
                                  spell_caps(caps.inheritable)),
                      "what the kernel checks (effective) and the most this process may ever raise again (permitted)",
                      "grep Cap /proc/{pid}/status"},
                     [&] { return raw_capset(caps); });
    } catch (Error& e) {
        if (e.err() == EPERM)
            e.with_hint("effective must be within permitted, and permitted within what the process holds (and the bounding set for inheritable)");
        throw;
    }
    // Ambient capabilities survive execve of an ordinary file for a non-root uid; only a
    // capability both permitted and inheritable may be raised.
    narrate::sys({kLayer, "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)", "no ambient capability comes from the runtime", ""},
                 [] { return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); });
    for (int c : caps.ambient) {
        try {
            narrate::sys({kLayer, "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, " + spell_cap(c) + ")",
                          "kept across execve even for a non-root uid", "grep CapAmb /proc/{pid}/status"},
                         [&] { return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0); });
        } catch (Error& e) {
            if (e.err() == EPERM) e.with_hint("an ambient capability must also be in the permitted and inheritable sets");
            throw;
        }
    }
}

}  // namespace

void apply(const spec::Process& process, const std::optional<spec::Seccomp>& seccomp, const seccomp::Program* compiled) {
    auto install = [&] {
        if (compiled) seccomp::load(*compiled);
        else seccomp::install(*seccomp);
    };
    // An absent capabilities object means no capability at all (OCI: the sets are empty).
    const spec::Capabilities caps = process.capabilities.value_or(spec::Capabilities{});

    narrate::sys({kLayer, "prctl(PR_SET_KEEPCAPS, 1)",
                  "setresuid to a non-root uid would otherwise empty the permitted set before capset", ""},
                 [] { return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0); });
    drop_bounding(caps.bounding);

    // Without no_new_privs the kernel lets only a holder of CAP_SYS_ADMIN install a filter (or
    // a setuid program could be run under a filter that fools it). If the identity switch (a
    // non-root uid clears the effective set) or capset is about to lose it, the filter goes in
    // now, while we are still root - and then it must allow setgroups, setresuid, capset and
    // prctl, which Docker's profile does.
    bool early = seccomp && !process.no_new_privileges &&
                 (!has(caps.effective, CAP_SYS_ADMIN) || process.user.uid != 0);
    if (early) {
        narrate::note(kLayer, "seccomp before the identity and capset: without no_new_privs, loading a filter "
                              "needs CAP_SYS_ADMIN, which they drop");
        install();
    }
    set_identity(process.user);
    if (process.no_new_privileges)
        narrate::sys({kLayer, "prctl(PR_SET_NO_NEW_PRIVS, 1)",
                      "execve can no longer grant privileges: setuid bits and file capabilities are ignored",
                      "grep NoNewPrivs /proc/{pid}/status"},
                     [] { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); });

    set_capabilities(caps);
    if (seccomp && !early) install();
}

}  // namespace security
