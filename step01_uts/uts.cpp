#include "uts.hpp"

#include <sched.h>
#include <unistd.h>

#include "narrate.hpp"

namespace uts {

std::string validate_hostname(std::string_view name) {
    if (name.empty() || name.size() > 64) return "must be 1 to 64 characters long";
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (!ok) return "may only hold letters, digits, '-' and '.'";
    }
    return {};
}

void add_options(CLI::App& app, Config& cfg) {
    app.add_option("--hostname", cfg.hostname, "hostname inside the container (default: minibox)")
        ->check([](const std::string& name) {
            auto why = validate_hostname(name);
            return why.empty() ? why : "hostname \"" + name + "\" " + why;
        });
}

int Layer::clone_flags() const { return CLONE_NEWUTS; }

void Layer::setup_inside(launch::Context& ctx) {
    const std::string& name = cfg_.hostname;
    narrate::sys({"uts", "sethostname(\"" + name + "\")", "only this UTS namespace sees the new name",
                  "hostname; nsenter -t {pid} -u hostname   # host unchanged, container renamed"},
                 [&] { return ::sethostname(name.data(), name.size()); });
    ctx.env.push_back("HOSTNAME=" + name);
}

}  // namespace uts
