// What `docker run` hands the runtime: an OCI bundle. config.json starts as Docker's defaults
// (spec::default_spec: 14 capabilities, the seccomp profile, masked paths, the usual mounts)
// and every flag of RunOptions changes one part of it; the root is an overlayfs mount of the
// image's layers under the container's own upper directory (step06's overlay options).
//
// The translation is pure (unit-tested without root): flags + image + paths -> JSON. Only
// mount_root()/unmount_root() and make_workdir() touch the host. See the OCI runtime spec
// (config.md, config-linux.md), overlayfs(5), and workshop/08-engine.md.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image_source.hpp"
#include "options.hpp"

namespace docker {

// Where a container's pieces are on the host.
struct BundlePaths {
    std::string rootfs;    // the overlay's mount point: <record>/merged
    std::string shim_dir;  // the shim's directory: <exec>/<12 hex>; its netns, hosts, hostname
};

// What the image and the flags decide together, computed once at create and kept in the record.
struct Process {
    std::vector<std::string> args;  // Entrypoint + Cmd (or COMMAND), with --init's tini first
    std::vector<std::string> env;
    std::string cwd = "/";
    unsigned uid = 0, gid = 0;
    std::vector<unsigned> additional_gids;
    std::string hostname;
};

// Entrypoint/Cmd/Env/WorkingDir of the image under the flags (--entrypoint, COMMAND, -e, -w, -h,
// -u, -t). `passwd_lookup` resolves user and group names (from the image's /etc/passwd and
// /etc/group); tests give their own. Throws BadRequest for no command at all, an unknown user.
struct UserIds {
    unsigned uid = 0, gid = 0;
    std::vector<unsigned> additional_gids;
};
UserIds resolve_user(const std::string& user, const std::vector<std::string>& layers);
Process plan_process(const RunOptions& o, const SourceImage& img, const std::string& id);

// The tini binary --init bind-mounts at /sbin/docker-init ($MINIBOX_INIT, /usr/bin/docker-init,
// /usr/bin/tini-static); "" when none is installed.
std::string init_binary();

// config.json for the container.
nlohmann::json make_config(const RunOptions& o, const Process& p, const BundlePaths& paths, const std::string& id);

// mount("overlay", rootfs, "overlay", MS_NODEV, lowerdir=layers...,upperdir=,workdir=): the
// container's root. Idempotent (an existing mount is left). unmount_root: MNT_DETACH, missing ok.
void mount_root(const std::vector<std::string>& layers, const std::string& record_dir);
void unmount_root(const std::string& record_dir);
// Makes the working directory inside the mounted root (docker creates a missing -w), one
// component at a time without following symlinks out of the root.
void make_workdir(const std::string& rootfs, const std::string& dir);

}  // namespace docker
