// docs_runner: runs the ```console blocks of one workshop chapter and compares their output.
//
//   docs_runner [--timeout SECONDS] [--list] BIN_DIR CHAPTER.md
//
// Exit 0 when every command passed, 1 when one failed (each failure is described: file:line,
// the command, expected vs actual), 77 (ctest's SKIP_RETURN_CODE) when not root, unless
// CI=true, where a skip is a failure. The format is described in console.hpp.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "console.hpp"

int main(int argc, char** argv) {
    int timeout = 60;
    bool list = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        if (std::strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) timeout = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--list") == 0) list = true;
        else break;
    }
    if (argc - i != 2 || timeout <= 0) {
        std::cerr << "usage: docs_runner [--timeout SECONDS] [--list] BIN_DIR CHAPTER.md\n";
        return 2;
    }
    std::string bin_dir = argv[i], chapter = argv[i + 1];

    std::ifstream f(chapter);
    if (!f) {
        std::cerr << chapter << ": cannot read\n";
        return 1;
    }
    std::stringstream text;
    text << f.rdbuf();
    std::vector<docs::Command> commands;
    try {
        commands = docs::parse(text.str(), chapter);
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    if (list) {
        for (auto& c : commands) std::cout << c.file << ":" << c.line << ": $ " << c.text << "\n";
        return 0;
    }
    if (commands.empty()) {
        std::cout << chapter << ": no console blocks\n";
        return 0;
    }
    if (::geteuid() != 0) {
        const char* ci = std::getenv("CI");
        if (ci && std::string(ci) == "true") {
            std::cerr << chapter << ": the chapter's commands need root, and CI=true forbids skipping\n";
            return 1;
        }
        std::cout << chapter << ": skipped: the chapter's commands need root (run the tests with sudo)\n";
        return 77;
    }

    int failed = 0;
    for (auto& c : commands) {
        std::ostringstream log;
        bool ok = docs::check(c, bin_dir, std::chrono::seconds(timeout), log);
        if (ok) {
            std::string first = c.text.substr(0, c.text.find('\n'));
            std::cout << "ok    " << c.file << ":" << c.line << ": $ " << first << "\n";
        } else {
            ++failed;
            std::cout << log.str();
        }
        std::cout.flush();
    }
    std::cout << chapter << ": " << commands.size() - failed << " of " << commands.size() << " commands passed\n";
    return failed == 0 ? 0 : 1;
}
