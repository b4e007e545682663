#pragma once
// `image import` reads tar archives with libarchive, which loads 14 shared libraries (libxml2,
// ICU, the shared libstdc++, compressors) and OpenSSL's libcrypto for OCI digests. A `run`
// needs none of them, yet the dynamic loader maps and relocates every library an executable
// names before main(), about 1.5 ms of a 6 ms container start (minibox-bench step06).
// So main.cpp is built twice, differing in this one function:
//   step06_overlay         import_handoff.cpp: execv(2)s the companion with the same argv;
//   step06_overlay-import  import_run.cpp:     does the import (import.hpp).
// `ldd build/bin/step06_overlay` and `ldd build/bin/step06_overlay-import` show the difference.
#include <cstdint>
#include <string>

namespace image {

// SOURCE imported as NAME into the store ($MINIBOX_ROOT); argv is the tool's own command line.
int run_import(const std::string& source, const std::string& name, std::uint64_t max_size, char** argv);

}  // namespace image
