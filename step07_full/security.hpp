// What keeps a container in, applied last in the container's first process (and in every
// `exec`): the identity (supplementary groups, gid, uid), the five capability sets,
// no_new_privs, and the seccomp filter.
//
// The order is the whole difficulty (runc's init and bubblewrap comment it at length):
//   1. prctl(PR_SET_KEEPCAPS, 1): setresuid to a non-root uid would otherwise clear every set
//   2. drop from the bounding set what is not in it (needs CAP_SETPCAP, so before step 5)
//   3. setgroups, setresgid, setresuid (needs CAP_SETGID/CAP_SETUID, so before step 5)
//   4. prctl(PR_SET_NO_NEW_PRIVS, 1) when asked
//   5. capset: effective, permitted, inheritable; then the ambient set (PR_CAP_AMBIENT_RAISE)
//   6. seccomp: last, so the runtime's own calls above are not filtered. Without no_new_privs
//      the kernel wants CAP_SYS_ADMIN to install a filter, which step 5 may have dropped: then
//      the filter goes in before step 5 and must allow capset (Docker's profile does).
// See capabilities(7), prctl(2), seccomp(2), seccomp_init(3), and workshop/07-full.md.
#pragma once

#include <optional>

#include "launcher.hpp"
#include "seccomp.hpp"
#include "spec.hpp"

namespace security {

// Child side, right before execve. Throws Error naming the call that failed.
// With `compiled`, the filter was compiled on the host (seccomp::compile) and is only loaded.
void apply(const spec::Process& process, const std::optional<spec::Seccomp>& seccomp,
           const seccomp::Program* compiled = nullptr);

class Layer : public launch::Layer {
public:
    // `seccomp_cache`: where compiled filters are kept (seccomp_cache.hpp); "" = compile each time.
    Layer(spec::Process process, std::optional<spec::Seccomp> seccomp, std::string seccomp_cache = "")
        : process_(std::move(process)), seccomp_(std::move(seccomp)), cache_(std::move(seccomp_cache)) {}
    const char* name() const override { return "security"; }
    // Qualified: std::optional in the arguments would otherwise bring std::apply in by ADL.
    void prepare_host(launch::Context&) override {
        if (seccomp_) compiled_ = seccomp::compile(*seccomp_, cache_);
    }
    void before_exec(launch::Context&) override { security::apply(process_, seccomp_, seccomp_ ? &compiled_ : nullptr); }

private:
    spec::Process process_;
    std::optional<spec::Seccomp> seccomp_;
    std::string cache_;
    seccomp::Program compiled_;
};

}  // namespace security
