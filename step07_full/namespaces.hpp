// The namespaces of config.json: each type either new (a clone flag) or joined (setns(2) on the
// path given, e.g. a network namespace an engine prepared), and the user namespace's id maps.
//
//   new user ns     CLONE_NEWUSER; the parent writes /proc/PID/uid_map and gid_map (join_child),
//                   the child then becomes root of it: setresuid(0, 0, 0)
//   new cgroup ns   not a clone flag: the child unshare(CLONE_NEWCGROUP)s after the parent moved
//                   it into its cgroup, so the container sees its own cgroup as "/"
//   joined ns       setns(open(path), type) in the child; a pid namespace is joined by the parent
//                   before clone (setns(CLONE_NEWPID) only changes where children are born)
// See namespaces(7), user_namespaces(7), cgroup_namespaces(7), setns(2).
#pragma once

#include <string>
#include <vector>

#include "launcher.hpp"
#include "spec.hpp"
#include "unique_fd.hpp"

namespace namespaces {

// "pid" for CLONE_NEWPID, ...
const char* ns_file(int type);

// A user namespace with `uid`/`gid` maps, held by an fd (for idmapped mounts): a short-lived
// child unshares CLONE_NEWUSER, we write its maps, keep /proc/CHILD/ns/user, and reap it.
unique_fd make_userns(const std::vector<spec::IdMap>& uid, const std::vector<spec::IdMap>& gid);
// Writes "container host size" lines to /proc/PID/uid_map (or gid_map).
void write_map(pid_t pid, const char* file, const std::vector<spec::IdMap>& maps);

class Layer : public launch::Layer {
public:
    // Validates the combination (throws Error exit 125): paths exist and are namespaces of the
    // right type (NS_GET_NSTYPE).
    Layer(std::vector<spec::Namespace> list, std::vector<spec::IdMap> uid, std::vector<spec::IdMap> gid);
    const char* name() const override { return "ns"; }
    int clone_flags() const override;
    void prepare_host(launch::Context& ctx) override;  // joins a pid namespace given by path
    void join_child(launch::Context& ctx) override;    // uid_map, gid_map
    void setup_inside(launch::Context& ctx) override;  // setns, unshare(CLONE_NEWCGROUP), root of the user ns
    bool new_user() const { return new_user_; }

private:
    std::vector<spec::Namespace> list_;
    std::vector<spec::IdMap> uid_, gid_;
    std::vector<std::pair<int, unique_fd>> join_;  // (type, fd) to setns in the child
    bool new_user_ = false, new_cgroup_ = false;
};

}  // namespace namespaces
