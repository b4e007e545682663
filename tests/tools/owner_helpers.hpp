// Helpers for the cleanup tests: a temporary run dir, and an owner that is surely dead.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "state.hpp"

namespace owner_test {

// A process that existed and is gone: fork a child, note its start time, reap it.
inline state::Owner dead_owner() {
    int p[2];
    if (::pipe(p) != 0) return {};
    pid_t child = ::fork();
    if (child == 0) {
        char c;
        ::close(p[1]);
        (void)!::read(p[0], &c, 1);  // wait until the parent has read our start time
        ::_exit(0);
    }
    ::close(p[0]);
    state::Owner o{child, state::start_time(child).value_or(0)};
    ::close(p[1]);
    ::waitpid(child, nullptr, 0);
    return o;
}

// A fresh directory used as MINIBOX_RUN for the life of the object.
class TempRunDir {
public:
    TempRunDir() {
        char tmpl[] = "/tmp/minibox-tools-test.XXXXXX";
        path_ = ::mkdtemp(tmpl);
        ::setenv("MINIBOX_RUN", path_.c_str(), 1);
    }
    ~TempRunDir() {
        ::unsetenv("MINIBOX_RUN");
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    // run_dir()/NAME as a file holding `content`.
    std::string file(const std::string& name, const std::string& content) const {
        std::string p = path_ + "/" + name;
        std::ofstream(p) << content;
        return p;
    }
    // run_dir()/NAME as a directory with an "owner" file.
    std::string dir(const std::string& name, const std::string& owner) const {
        std::string p = path_ + "/" + name;
        std::filesystem::create_directories(p + "/sub");
        std::ofstream(p + "/owner") << owner << "\n";
        std::ofstream(p + "/sub/data") << "x";
        return p;
    }

private:
    std::string path_;
};

}  // namespace owner_test
