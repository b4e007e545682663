#include "runtime.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "narrate.hpp"
#include "util.hpp"

namespace shim {

Runtime::Result Runtime::run(const std::vector<std::string>& args, int in, int out, int err,
                             const std::string& cwd) const {
    std::vector<std::string> argv = {exe, "--root", root};
    if (!log.empty()) argv.insert(argv.end(), {"--log", log, "--log-format", "json"});
    argv.insert(argv.end(), args.begin(), args.end());
    std::string line;
    for (auto& a : argv) line += (line.empty() ? "" : " ") + a;
    narrate::note("shim", "run the runtime: " + line);
    // The log is appended to: remember where this run's lines begin.
    std::streamoff start = 0;
    if (!log.empty()) {
        std::ifstream f(log, std::ios::ate);
        if (f) start = f.tellg();
    }
    Result r;
    r.status = run_program(argv, in, out, err, cwd);
    if (r.status != 0) {
        std::ifstream f(log);
        f.seekg(start);
        std::string l;
        while (std::getline(f, l)) {
            auto j = nlohmann::json::parse(l, nullptr, false);
            if (j.is_object() && j.value("level", "") == "error") r.error = j.value("msg", l);
            else if (!j.is_object() && !l.empty()) r.error = l;
        }
        if (r.error.empty()) r.error = exe + " " + (args.empty() ? "" : args.front()) + " exited with " + std::to_string(r.status);
        narrate::note("shim", "the runtime failed (" + std::to_string(r.status) + "): " + r.error);
    }
    return r;
}

}  // namespace shim
