#include "pid_doctor.hpp"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace pid {

std::vector<doctor::Check> checks() {
    return {{"pid", [] {
        // unshare(CLONE_NEWPID) moves the caller's future children, not the caller: the first
        // fork after it is PID 1 of the new namespace. The probe checks exactly that.
        int rc = doctor::in_child([] {
            if (::unshare(CLONE_NEWPID) != 0) return errno;
            pid_t child = ::fork();
            if (child < 0) return errno;
            if (child == 0) ::_exit(::getpid() == 1 ? 0 : EPROTO);
            int status = 0;
            if (::waitpid(child, &status, 0) < 0) return errno;
            return WIFEXITED(status) ? WEXITSTATUS(status) : EPROTO;
        });
        if (rc == 0) return doctor::CheckResult::ok("unshare(CLONE_NEWPID): the first child is PID 1");
        return doctor::CheckResult::fail(std::string("a new PID namespace: ") + std::strerror(rc),
                                         "run as root (CAP_SYS_ADMIN); a kernel with CONFIG_PID_NS");
    }}};
}

}  // namespace pid
