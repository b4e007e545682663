// The compiled seccomp filter, kept on disk per filter: libseccomp needs tens of milliseconds to
// turn Docker's ~350 rules for three architectures into ~1000 BPF instructions, more than the
// rest of a container start together, and the result only depends on what is in the key below.
// Newer crun releases keep the same kind of cache under their state root (.cache/seccomp).
//
// The key is every input of the compilation: the whole filter (written out canonically), the
// libseccomp version, the machine's architecture and this binary's identity (a rebuilt runtime
// compiles again). A file is named by a hash of the key and holds the key itself, which is
// compared byte for byte: the hash is only an index, a collision is a miss. A file is trusted
// only if it is a regular file of this euid, written by nobody else (mode 0600 in a 0700
// directory); anything odd is a miss, and a miss simply compiles. See seccomp(2).
#pragma once

#include <optional>
#include <string>

#include "seccomp.hpp"
#include "spec.hpp"

namespace seccomp::cache {

// Every input the compiled program depends on, as text.
std::string key(const spec::Seccomp& filter);

// The program stored for `key` in `dir`, or nullopt (absent, another key, damaged, untrusted).
std::optional<Program> load(const std::string& dir, const std::string& key);

// Stores `program` for `key` in `dir` (made 0700 if missing), atomically (a temporary file,
// then rename). Best effort: false when it could not (a read-only root, say). Keeps at most
// kMaxEntries files: the oldest others go first.
bool store(const std::string& dir, const std::string& key, const Program& program);
inline constexpr int kMaxEntries = 16;

// The file `key` is stored in, below `dir`.
std::string path_for(const std::string& dir, const std::string& key);

}  // namespace seccomp::cache
