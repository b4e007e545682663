#include "fault.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace fault {
namespace {

// Shared with the container's process: clone() without CLONE_VM copies memory, but a
// MAP_SHARED mapping stays one, so both sides number their operations in one sequence.
struct Shared {
    std::atomic<long> count{0};
    std::atomic<bool> fired{false};
};

Shared* g_shared = nullptr;
long g_target = 0;        // MINIBOX_FAULT=N
std::string g_match;      // MINIBOX_FAULT=TEXT
int g_errno = EIO;
std::string g_count_to;   // MINIBOX_FAULT_COUNT
int g_count_fd = -1;      // MINIBOX_FAULT_COUNT=FILE, open for appending
pid_t g_creator = 0;
int g_suspended = 0;

void report_count() {
    if (g_shared && g_count_to == "1" && ::getpid() == g_creator)
        std::fprintf(stderr, "minibox-fault: %ld operations\n", g_shared->count.load());
}

// Set up before main(), so the mapping exists before any clone().
struct Init {
    Init() {
        const char* spec = std::getenv("MINIBOX_FAULT");
        const char* count = std::getenv("MINIBOX_FAULT_COUNT");
        if (!(spec && *spec) && !(count && *count)) return;
        void* m = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return;
        g_shared = new (m) Shared;
        g_creator = ::getpid();
        if (spec && *spec) {
            char* end = nullptr;
            long n = std::strtol(spec, &end, 10);
            if (*end == '\0' && n > 0) g_target = n;
            else g_match = spec;
        }
        if (const char* e = std::getenv("MINIBOX_FAULT_ERRNO"); e && std::atoi(e) > 0) g_errno = std::atoi(e);
        if (count && *count) {
            g_count_to = count;
            // Opened now, once: the container's process changes directory and root (chdir into
            // its root, pivot_root), after which the name would mean another file, or one inside
            // the image. The descriptor, inherited by clone, still names this one.
            if (g_count_to != "1")
                g_count_fd = ::open(g_count_to.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
            std::atexit(report_count);
        }
        g_armed = true;
    }
} g_init;

}  // namespace

bool g_armed = false;

int inject_slow(std::string_view call) {
    if (!g_shared || g_suspended > 0) return 0;
    long n = ++g_shared->count;
    if (g_count_fd >= 0) {
        std::string line = std::to_string(n) + "\t" + std::string(call) + "\n";
        (void)!::write(g_count_fd, line.data(), line.size());  // O_APPEND: one line, whole
    }
    bool hit = g_target ? n == g_target : (!g_match.empty() && call.find(g_match) != std::string_view::npos);
    if (!hit || g_shared->fired.exchange(true)) return 0;
    return g_errno;
}

Suspend::Suspend() { ++g_suspended; }
Suspend::~Suspend() { --g_suspended; }

}  // namespace fault
