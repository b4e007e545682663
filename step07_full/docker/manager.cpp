// The lifecycle of docker::Manager: create, start, stop, kill, restart, remove, wait, pause,
// rename, prune. Every step that changes the host is either the overlay mount (here) or a
// request to the container's shim (shim/client.hpp), which runs the runtime.
#include "manager.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "bundle.hpp"
#include "files.hpp"
#include "image_source.hpp"
#include "image_store.hpp"
#include "internal.hpp"
#include "lifecycle.hpp"
#include "narrate.hpp"
#include "overlay.hpp"
#include "host_ports.hpp"
#include "shim/client.hpp"
#include "state.hpp"
#include "container.hpp"
#include "volumes.hpp"

namespace docker {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

void emit(const Manager& m, const Record& r, const std::string& action, std::map<std::string, std::string> attrs = {}) {
    if (!m.on_event) return;
    attrs["name"] = r.name;
    attrs["image"] = r.image_ref;
    try {
        m.on_event(Event{r.id, action, attrs});
    } catch (...) {
        // An observer's failure is not the operation's.
    }
}

void remove_tree_unmounting(const std::string& dir) {
    // The shim's netns bind mount may still be there when its shim was killed; umount first.
    for (const char* inner : {"/netns", "/merged", "/bundle/rootfs"}) {
        std::string p = dir + inner;
        if (overlay::is_mount_point(p)) ::umount2(p.c_str(), MNT_DETACH);
    }
    image::remove_tree(dir);
}

shim::Options shim_options(const Roots& roots, const Record& r, const detail::Paths& p, bool start) {
    shim::Options o;
    // After the container's life (and its restarts) is over, the shim runs this: the root is
    // unmounted and, with --rm, the container removed, without a daemon to do it (podman's
    // conmon calls `podman container cleanup` the same way).
    o.exit_command = {detail::runtime_binary(), "container", "cleanup", "--data-root", roots.data, "--exec-root", roots.exec, r.id};
    o.id = r.id;
    o.runtime = detail::runtime_binary();
    o.runtime_root = p.runtime_root;
    o.tty = r.opts.tty;
    o.open_stdin = r.opts.interactive;
    // docker run -i (attached): the client's EOF closes the container's stdin; -d -i keeps it open.
    o.stdin_once = r.opts.interactive && !r.opts.detach;
    o.log_path = p.log;
    o.restart = r.opts.restart.name +
                (r.opts.restart.name == "on-failure" && r.opts.restart.max_retries > 0 ? ":" + std::to_string(r.opts.restart.max_retries) : "");
    o.start = start;
    o.network.mode = r.opts.network;
    for (auto& port : r.opts.ports) o.network.ports.push_back(std::to_string(port.host_port) + ":" + std::to_string(port.container_port) + "/" + port.proto);
    o.network.hostname = r.process.hostname;
    return o;
}

// The shim directory as a fresh shim wants it: the bundle, nothing of an earlier life.
void prepare_shim_dir(const detail::Paths& p, const Record& r) {
    ::mkdir(p.shim.substr(0, p.shim.rfind('/')).c_str(), 0700);
    if (::mkdir(p.shim.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + p.shim + "\")", errno);
    for (const char* f : {"/state.json", "/shim.json", "/shim.sock", "/console.sock", "/hosts", "/hostname"})
        ::unlink((p.shim + f).c_str());
    if (::mkdir(p.bundle.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + p.bundle + "\")", errno);
    std::string config = files::read(p.record + "/config.json");
    if (config.empty()) throw Error("container " + r.id.substr(0, 12) + ": its config.json is missing from " + p.record);
    files::write(p.bundle + "/config.json", config);
}

bool explain() { return narrate::mode() != narrate::Mode::quiet; }

// Spawns the shim on a prepared directory with the root mounted; on failure the root is
// unmounted again (the shim has removed what it made).
shim::Ready spawn_shim(const Roots& roots, const Record& r, const detail::Paths& p, bool start) {
    auto img = find_image(r.image_id.empty() ? r.image_ref : r.image_id);
    if (!img) throw NotFound("container " + r.id.substr(0, 12) + ": No such image: " + r.image_ref, exit_code::tool_failed);
    mount_root(img->image.layers, p.record);
    try {
        make_workdir(p.record + "/merged", r.process.cwd);
        prepare_shim_dir(p, r);
        narrate::note("docker", "minibox-shim " + p.shim + ": it runs `" + detail::runtime_binary() + " --root " + p.runtime_root +
                                    " create --bundle " + p.bundle + " " + r.id.substr(0, 12) + "...`" + (start ? " and start" : ""));
        return shim::spawn(p.shim, shim_options(roots, r, p, start), explain());
    } catch (...) {
        try {
            unmount_root(p.record);
        } catch (const Error&) {
        }
        throw;
    }
}

int signal_number(const std::string& s, const char* what) {
    int n = lifecycle::parse_signal(s);
    if (n == 0) throw BadRequest(std::string(what) + ": Invalid signal: " + s);
    return n;
}

}  // namespace

Manager::Manager(Roots roots) : roots_(detail::defaults(std::move(roots))) {}

std::string Manager::resolve(const std::string& ref) const { return Records(roots_.data).resolve(ref); }

bool Manager::exists(const std::string& ref) const {
    try {
        resolve(ref);
        return true;
    } catch (const NotFound&) {
        return false;
    } catch (const BadRequest&) {
        return true;  // ambiguous: something matches
    }
}

json Manager::dry_run(RunOptions opts) const {
    validate(opts);
    auto img = find_image(opts.image);
    if (!img) throw NotFound("Unable to find image '" + opts.image + "' locally", exit_code::tool_failed);
    std::string id = "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef";
    Process proc = plan_process(opts, *img, id);
    auto p = detail::paths(roots_, id);
    id = "<id>";
    json c = make_config(opts, proc, {p.record + "/merged", p.shim}, "<id>");
    return c;
}

std::string Manager::create(RunOptions opts) {
    validate(opts);
    auto img = find_image(opts.image);
    if (!img) throw NotFound("Unable to find image '" + opts.image + "' locally (see `step07_full images`; pull it first)", exit_code::tool_failed);
    Records records(roots_.data);

    Record r;
    {
        // Names are unique: checked and taken under one lock. The record is written with its
        // creator first, so a create killed from here on leaves a record the next one reaps.
        FileLock names(roots_.data + "/names.lock");
        reap_half_made();
        if (opts.name.empty()) {
            for (int i = 0; i < 20 && (opts.name.empty() || !records.by_name(opts.name).empty()); ++i) opts.name = random_name();
        }
        if (auto other = records.by_name(opts.name); !other.empty())
            throw Conflict("Conflict. The container name \"/" + opts.name + "\" is already in use by container \"" + other +
                           "\". You have to remove (or rename) that container to be able to reuse that name.");
        std::string id;
        for (;;) {
            id = new_id();
            bool clash = false;
            for (auto& other : records.ids()) clash = clash || other.starts_with(id.substr(0, 12));
            if (!clash) break;
        }
        r.id = id;
        r.name = opts.name;
        r.created = container::now_rfc3339();
        r.image_ref = opts.image;
        r.image_id = img->id;
        r.image_config = img->config.is_object() && img->config.contains("config") ? img->config["config"] : json::object();
        r.stop_signal = !opts.stop_signal.empty() ? opts.stop_signal : img->stop_signal;
        r.creator = state::Owner::self().str();
        r.process = plan_process(opts, *img, id);
        // -p 80, -P: free host ports, none another record holds (taken under the names lock).
        std::vector<std::uint16_t> taken;
        for (auto& other : records.ids())
            if (auto o = records.load(other))
                for (auto& b : o->opts.ports) taken.push_back(b.host_port);
        assign_host_ports(opts, img->exposed, taken);
        r.opts = opts;
        records.save(r);
    }
    auto p = detail::paths(roots_, r.id);
    FileLock lock(p.lock);
    try {
        // -v NAME:/path and -v /path: the volumes made (or found), their _data bound.
        Volumes(roots_).attach(r.opts, r.image_config);
        records.save(r);
        json config = make_config(r.opts, r.process, {p.record + "/merged", p.shim}, r.id);
        files::write(p.record + "/config.json", config.dump(2) + "\n");
        files::write(p.log, "");
        hold_image(*img, r.id);
        auto ready = spawn_shim(roots_, r, p, false);
        Volumes(roots_).copy_up(r.opts, p.record + "/merged");
        r.complete = true;
        r.creator.clear();
        records.save(r);
        (void)ready;
    } catch (...) {
        try {
            unmount_root(p.record);
            if (shim::alive(p.shim)) shim::Client(p.shim).shutdown();
            shim::reap_dead();
            remove_tree_unmounting(p.shim);
            image::remove_tree(p.record);
            release_image(r.id);
            ::unlink(p.lock.c_str());
            Volumes(roots_).remove_anonymous(r.opts, r.id);
        } catch (const Error& e) {
            narrate::warn("cleaning up after a failed create: " + e.line());
        }
        throw;
    }
    emit(*this, r, "create");
    return r.id;
}

void Manager::reap_half_made() {
    Records records(roots_.data);
    for (auto& id : records.ids()) {
        auto r = records.load(id);
        auto p = detail::paths(roots_, id);
        if (r && r->complete) continue;
        if (r) {
            auto owner = state::Owner::parse(r->creator);
            if (owner && owner->alive()) continue;
        } else {
            // No readable record: being written right now, or a create killed before it wrote.
            struct stat st {};
            if (::stat(p.record.c_str(), &st) == 0 && ::time(nullptr) - st.st_mtime < 10) continue;
        }
        narrate::note("docker", "removing container " + id.substr(0, 12) + ", left half-made by a killed create");
        try {
            if (shim::alive(p.shim)) shim::Client(p.shim).shutdown();
            for (int i = 0; i < 100 && shim::alive(p.shim); ++i) std::this_thread::sleep_for(50ms);
            shim::reap_dead();
            unmount_root(p.record);
            remove_tree_unmounting(p.shim);
            image::remove_tree(p.record);
            release_image(id);
            ::unlink(p.lock.c_str());
        } catch (const Error& e) {
            narrate::warn("could not remove half-made container " + id.substr(0, 12) + ": " + e.line());
        }
    }
}

void Manager::start(const std::string& ref) {
    Records records(roots_.data);
    std::string id = records.resolve(ref);
    auto p = detail::paths(roots_, id);
    FileLock lock(p.lock);
    auto r = records.load(id);
    if (!r) throw NotFound("No such container: " + ref);
    auto l = detail::live(roots_, *r);
    if (l.running()) return;  // docker: starting a running container is not an error
    r->manually_stopped = false;
    records.save(*r);
    if (l.shim_alive && l.status == "created") {
        shim::Client(p.shim).start();
    } else {
        // A new life: the old shim is gone (its leftovers reaped), a new one creates and starts.
        shim::reap_dead();
        spawn_shim(roots_, *r, p, true);
    }
    emit(*this, *r, "start");
}

void Manager::stop(const std::string& ref, std::optional<int> timeout) {
    Records records(roots_.data);
    std::string id = records.resolve(ref);
    auto p = detail::paths(roots_, id);
    auto r = records.load(id);
    if (!r) throw NotFound("No such container: " + ref);
    {
        FileLock lock(p.lock);
        r = records.load(id);
        if (!r) throw NotFound("No such container: " + ref);
        r->manually_stopped = true;
        records.save(*r);
    }
    auto l = detail::live(roots_, *r);
    if (!l.running() || !l.shim_alive) {
        settle(id);
        return;
    }
    if (l.status == "paused") detail::run_runtime(p, {"resume", id});
    int t = timeout ? *timeout : (r->opts.stop_timeout ? *r->opts.stop_timeout : 10);
    int sig = signal_number(r->stop_signal.empty() ? "TERM" : r->stop_signal, "stop signal");
    shim::Client c(p.shim);
    try {
        narrate::note("docker", "stop: SIG" + std::string(::sigabbrev_np(sig)) + ", then SIGKILL after " + std::to_string(t) + " s");
        c.kill(sig);
    } catch (const Error&) {
        // It ended meanwhile.
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(t < 0 ? 3600 * 24 : t);
    auto still_running = [&] {
        auto now = detail::live(roots_, *r);
        return now.shim_alive && now.running();
    };
    while (still_running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
    if (still_running()) {
        try {
            c.kill(SIGKILL);
        } catch (const Error&) {
        }
        for (int i = 0; i < 200 && still_running(); ++i) std::this_thread::sleep_for(50ms);
    }
    settle(id);
    emit(*this, *r, "stop");
}

void Manager::settle(const std::string& id) {
    // Once the shim's life is over, the root is unmounted: a stopped container keeps only its
    // upper directory (docker unmounts at stop too). Waits a moment for the shim to finish.
    auto p = detail::paths(roots_, id);
    for (int i = 0; i < 100; ++i) {
        auto st = shim::read_state(p.shim);
        if (!shim::alive(p.shim)) break;
        if (st && st->status != "exited") return;  // restarting, or it runs again
        std::this_thread::sleep_for(50ms);
    }
    if (shim::alive(p.shim)) return;
    FileLock lock(p.lock);
    Records records(roots_.data);
    auto r = records.load(id);
    if (!r) return;
    if (auto st = shim::read_state(p.shim)) {
        r->last_state = st->to_json();
        records.save(*r);
    }
    shim::reap_dead();
    try {
        unmount_root(p.record);
    } catch (const Error& e) {
        narrate::warn("container " + id.substr(0, 12) + ": " + e.line());
    }
}

void Manager::kill(const std::string& ref, const std::string& signal) {
    Records records(roots_.data);
    std::string id = records.resolve(ref);
    auto p = detail::paths(roots_, id);
    auto r = records.load(id);
    if (!r) throw NotFound("No such container: " + ref);
    int sig = signal_number(signal.empty() ? "KILL" : signal, "kill");
    auto l = detail::live(roots_, *r);
    if (!l.running() || !l.shim_alive)
        throw Conflict("Cannot kill container: " + ref + ": Container " + id + " is not running");
    {
        FileLock lock(p.lock);
        r->manually_stopped = true;
        records.save(*r);
    }
    shim::Client(p.shim).kill(sig);
    emit(*this, *r, "kill", {{"signal", std::to_string(sig)}});
}

void Manager::restart(const std::string& ref, std::optional<int> timeout) {
    std::string id = resolve(ref);
    stop(id, timeout);
    // The shim of the stopped life is finishing; start spawns a new one.
    auto p = detail::paths(roots_, id);
    for (int i = 0; i < 100 && shim::alive(p.shim); ++i) std::this_thread::sleep_for(50ms);
    start(id);
    auto r = Records(roots_.data).load(id);
    if (r) emit(*this, *r, "restart");
}

void Manager::remove(const std::string& ref, bool force, bool volumes) {
    Records records(roots_.data);
    std::string id;
    try {
        id = records.resolve(ref);
    } catch (const NotFound&) {
        if (remove_foreign(ref)) return;
        throw;
    }
    auto p = detail::paths(roots_, id);
    auto r = records.load(id);
    if (!r) {
        // A record directory without a readable record: a half-made create's remains.
        FileLock lock(p.lock);
        remove_tree_unmounting(p.shim);
        image::remove_tree(p.record);
        return;
    }
    {
        auto l = detail::live(roots_, *r);
        if (l.running() && l.shim_alive && !force)
            throw Conflict("You cannot remove a running container " + id +
                           ". Stop the container before attempting removal or force remove");
    }
    FileLock lock(p.lock);
    r = records.load(id);
    if (!r) return;
    r->removal_in_progress = true;
    records.save(*r);
    auto l = detail::live(roots_, *r);
    if (l.status == "paused") detail::run_runtime(p, {"resume", id});
    if (shim::alive(p.shim)) {
        narrate::note("docker", "shutdown request to the shim: it kills the container, deletes the runtime's container and its network");
        try {
            shim::Client(p.shim).shutdown();
        } catch (const Error& e) {
            narrate::warn("shim shutdown: " + e.line());
        }
        for (int i = 0; i < 200 && shim::alive(p.shim); ++i) std::this_thread::sleep_for(50ms);
    }
    shim::reap_dead();
    // A runtime container the shim never got to delete (killed shim, reboot): forced away.
    container::Store rt(p.runtime_root);
    if (rt.exists(id)) detail::run_runtime(p, {"delete", "--force", id});
    unmount_root(p.record);
    remove_tree_unmounting(p.shim);
    image::remove_tree(p.record);
    release_image(id);
    ::unlink(p.lock.c_str());
    // rm -v, and --rm: the anonymous volumes go with the container (named ones never do).
    if (volumes || r->opts.auto_remove) Volumes(roots_).remove_anonymous(r->opts, id);
    emit(*this, *r, "destroy");
}

int Manager::wait(const std::string& ref, WaitCondition cond) {
    Records records(roots_.data);
    std::string id = records.resolve(ref);
    if (cond != WaitCondition::removed) return wait_exit(id, cond == WaitCondition::next_exit);
    // removed (docker run --rm): the exit code first, then until the record is gone.
    int code = 0;
    try {
        code = wait_exit(id, true);
    } catch (const NotFound&) {
        return code;
    }
    while (records.load(id)) std::this_thread::sleep_for(100ms);
    return code;
}

int Manager::wait_exit(const std::string& id, bool next_exit) {
    Records records(roots_.data);
    auto p = detail::paths(roots_, id);
    bool seen_running = false;
    for (;;) {
        auto r = records.load(id);
        if (!r) throw NotFound("No such container: " + id);
        auto l = detail::live(roots_, *r);
        if (l.running()) seen_running = true;
        // A created container is waited for until it has run (docker returns at once for
        // not-running; the CLI and the engine always mean "its exit" when they wait before start).
        bool done = !l.running() && l.status != "created";
        if (done && (!next_exit || seen_running || !l.shim_alive)) {
            settle(id);
            return l.exit_code;
        }
        if (l.shim_alive && l.status != "exited") {
            try {
                auto e = shim::Client(p.shim).wait();
                if (!e.restarting) {
                    settle(id);
                    return e.exit_code;
                }
                if (!next_exit) return e.exit_code;
                seen_running = true;
            } catch (const Error&) {
                std::this_thread::sleep_for(50ms);  // the shim is ending: read its state again
            }
            continue;
        }
        std::this_thread::sleep_for(100ms);
    }
}

namespace {
// pause and unpause: the runtime's freezer, from running to paused and back.
void set_paused(const Manager& m, const Roots& roots, const std::string& ref, bool pause) {
    std::string id;
    Record r = detail::load_record(roots, ref, id);
    auto p = detail::paths(roots, id);
    auto l = detail::live(roots, r);
    if (pause && l.status == "paused") throw Conflict("Container " + id + " is already paused");
    if (pause && !l.running()) throw Conflict("Container " + id + " is not running");
    if (!pause && l.status != "paused") throw Conflict("Container " + id + " is not paused");
    std::string err;
    if (detail::run_runtime(p, {pause ? "pause" : "resume", id}, &err) != 0)
        throw Error(std::string(pause ? "pause " : "unpause ") + id.substr(0, 12) + ": " + err);
    emit(m, r, pause ? "pause" : "unpause");
}
}  // namespace

void Manager::pause(const std::string& ref) { set_paused(*this, roots_, ref, true); }
void Manager::unpause(const std::string& ref) { set_paused(*this, roots_, ref, false); }

void Manager::rename(const std::string& ref, const std::string& new_name) {
    std::string name = new_name.starts_with("/") ? new_name.substr(1) : new_name;
    std::string why;
    if (!valid_name(name, why)) throw BadRequest(why);
    Records records(roots_.data);
    FileLock names(roots_.data + "/names.lock");
    std::string id = records.resolve(ref);
    auto p = detail::paths(roots_, id);
    FileLock lock(p.lock);
    auto r = records.load(id);
    if (!r) throw NotFound("No such container: " + ref);
    if (r->name == name) throw Conflict("Renaming a container with the same name as its current name");
    if (auto other = records.by_name(name); !other.empty())
        throw Conflict("Error when allocating new name: Conflict. The container name \"/" + name +
                       "\" is already in use by container \"" + other +
                       "\". You have to remove (or rename) that container to be able to reuse that name.");
    std::string old = r->name;
    r->name = name;
    records.save(*r);
    emit(*this, *r, "rename", {{"oldName", "/" + old}});
}

PruneResult Manager::prune() {
    PruneResult out;
    Records records(roots_.data);
    for (auto& id : records.ids()) {
        auto r = records.load(id);
        if (!r || !r->complete) continue;
        auto l = detail::live(roots_, *r);
        if (l.running()) continue;
        auto p = detail::paths(roots_, id);
        std::uint64_t size = 0;
        try {
            size = image::tree_size(p.record + "/upper");
        } catch (const Error&) {
        }
        try {
            remove(id, false);
            out.deleted.push_back(id);
            out.space_reclaimed += size;
        } catch (const Error& e) {
            narrate::warn("prune " + id.substr(0, 12) + ": " + e.line());
        }
    }
    return out;
}

void Manager::cleanup(const std::string& ref) {
    std::string id = resolve(ref);
    auto p = detail::paths(roots_, id);
    if (shim::alive(p.shim)) {
        auto st = shim::read_state(p.shim);
        if (st && st->status != "exited") return;
    }
    settle(id);
    auto r = Records(roots_.data).load(id);
    if (!r) return;
    auto l = detail::live(roots_, *r);
    if (r->opts.auto_remove && !l.running()) {
        try {
            remove(id, true);
        } catch (const NotFound&) {
            // Removed meanwhile (the CLI of a foreground run --rm does it too).
        }
    }
}

void Manager::resize(const std::string& ref, unsigned height, unsigned width) {
    std::string id = resolve(ref);
    auto p = detail::paths(roots_, id);
    if (!shim::alive(p.shim)) throw Conflict("Container " + id + " is not running");
    shim::Client(p.shim).resize(height, width);
}

}  // namespace docker
