#include "uts_doctor.hpp"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace uts {

std::vector<doctor::Check> checks() {
    return {{"uts", [] {
        // The probe runs in a child: its new UTS namespace, and the name set there, vanish with it.
        int rc = doctor::in_child([] {
            if (::unshare(CLONE_NEWUTS) != 0) return errno;
            static const char name[] = "minibox-doctor";
            return ::sethostname(name, sizeof name - 1) == 0 ? 0 : errno;
        });
        if (rc == 0) return doctor::CheckResult::ok("unshare(CLONE_NEWUTS) + sethostname work");
        return doctor::CheckResult::fail(std::string("unshare(CLONE_NEWUTS) or sethostname: ") + std::strerror(rc),
                                         "run as root (CAP_SYS_ADMIN); a kernel with CONFIG_UTS_NS");
    }}};
}

}  // namespace uts
