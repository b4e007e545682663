// UTS namespace: a hostname of the container's own.
//
// The kernel keeps the hostname (and the NIS domain name) per UTS namespace. A child cloned
// with CLONE_NEWUTS starts with a copy of its parent's; sethostname(2) inside changes only the
// copy. See uts_namespaces(7), clone(2), sethostname(2).
#pragma once

#include <string>
#include <string_view>

#include "cli.hpp"
#include "launcher.hpp"

namespace uts {

struct Config {
    std::string hostname = "minibox";
};

// Adds --hostname NAME, validated before anything is created.
void add_options(CLI::App& app, Config& cfg);

// Empty when `name` is a valid hostname (1 to 64 letters, digits, '-' or '.'),
// else the reason it is not.
std::string validate_hostname(std::string_view name);

class Layer : public launch::Layer {
public:
    explicit Layer(Config cfg) : cfg_(std::move(cfg)) {}
    const char* name() const override { return "uts"; }
    int clone_flags() const override;
    void setup_inside(launch::Context& ctx) override;

private:
    Config cfg_;
};

}  // namespace uts
