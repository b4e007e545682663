// Masked and read-only paths: the parts of /proc and /sys a container must not read or write.
//
// /proc and /sys expose the host's kernel (kcore, keys, sysrq-trigger, firmware). A masked file
// gets /dev/null bound over it, a masked directory an empty read-only tmpfs; a read-only path is
// bound onto itself and remounted MS_RDONLY. Without CAP_SYS_ADMIN the container cannot unmount
// or remount them: the two layers hold together. See proc(5), mount(2), and runc's
// maskedPaths/readonlyPaths (config-linux.md).
#pragma once

#include <string>
#include <vector>

#include "launcher.hpp"

namespace masked {

// Child side, after pivot_root (paths as the container sees them). A missing path is skipped.
void mask(const std::vector<std::string>& paths);
void make_read_only(const std::vector<std::string>& paths);

class Layer : public launch::Layer {
public:
    Layer(std::vector<std::string> masked, std::vector<std::string> read_only)
        : masked_(std::move(masked)), read_only_(std::move(read_only)) {}
    const char* name() const override { return "masked"; }
    // Runs after the rootfs layer's setup_inside (list it after that layer).
    void setup_inside(launch::Context&) override {
        mask(masked_);
        make_read_only(read_only_);
    }

private:
    std::vector<std::string> masked_, read_only_;
};

}  // namespace masked
