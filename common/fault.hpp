// Fault injection, for tests only: make one narrated kernel operation fail on purpose.
//
// Every kernel operation goes through narrate::sys(), so one switch there can fail any of them
// and a test can prove that a failure at *each* operation leaves the host as it was:
//   MINIBOX_FAULT=N              the N-th operation (counted from 1, parent and container
//                                alike) fails with errno MINIBOX_FAULT_ERRNO (default EIO)
//   MINIBOX_FAULT=TEXT           the first operation whose call text contains TEXT fails
//   MINIBOX_FAULT_COUNT=FILE     every operation is appended to FILE as "N<TAB>call"
//   MINIBOX_FAULT_COUNT=1        the count is printed on stderr when the tool exits
// Undo work (a layer's cleanup) runs under fault::Suspend: it is neither counted nor failed.
// Unset, the switch costs one test of a bool per operation.
#pragma once

#include <string_view>

namespace fault {

extern bool g_armed;  // true when MINIBOX_FAULT or MINIBOX_FAULT_COUNT is set

int inject_slow(std::string_view call);

// 0, or the errno the operation `call` must fail with.
inline int inject(std::string_view call) { return g_armed ? inject_slow(call) : 0; }

// While one lives (in this process), operations are not counted and never fail.
class Suspend {
public:
    Suspend();
    ~Suspend();
    Suspend(const Suspend&) = delete;
    Suspend& operator=(const Suspend&) = delete;
};

}  // namespace fault
