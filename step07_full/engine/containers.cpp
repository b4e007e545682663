// The container area of the Engine API: /containers/... -> docker::Manager. Each handler is the
// HTTP shape around one manager call; create's body is read by create_body.cpp, exec by
// exec.cpp. dockerd's answers are kept where the CLI looks at them: 304 for a start of a running
// or a stop of a stopped container, 409 for a name in use or a running container's removal.
//   moby's api/swagger.yaml, tag "Container"
#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "areas.hpp"
#include "create_body.hpp"
#include "errors.hpp"
#include "docker/filters.hpp"
#include "events.hpp"
#include "hijack.hpp"
#include "router.hpp"
#include "shim/client.hpp"
#include "streams.hpp"
#include "system.hpp"
#include "trace.hpp"

namespace engine {

void forget_execs(const std::string& container);            // exec.cpp
std::vector<std::string> exec_ids(const std::string& container);  // exec.cpp

docker::Manager& manager() {
    static docker::Manager* m = [] {
        auto* mgr = new docker::Manager();
        // The manager's own events (create, start, stop, kill, destroy, ...) go on the bus; "die"
        // comes from the watchers, which see the exit. A removed container's execs are freed.
        mgr->on_event = [](const docker::Event& e) {
            if (e.action == "destroy") forget_execs(e.id);
            events::publish("container", e.action, e.id, e.attributes);
        };
        return mgr;
    }();
    return *m;
}

void rethrow_mapped() {
    try {
        throw;
    } catch (const ApiError&) {
        throw;
    } catch (const docker::NotFound& e) {
        throw not_found(e.what());
    } catch (const docker::Conflict& e) {
        throw conflict(e.what());
    } catch (const docker::BadRequest& e) {
        throw bad_request(e.what());
    }
}

namespace {

std::mutex g_watch_mu;
std::set<std::string> g_watched;

bool running(const nlohmann::json& inspect) {
    const auto& st = inspect["State"];
    return st.value("Running", false) || st.value("Restarting", false);
}

void watcher(std::string id) {
    auto& m = manager();
    shim::CleaningWaiter cleaning;  // this thread settles and auto-removes: the shim runs no exit command
    for (;;) {
        int code = 0;
        nlohmann::json info;
        try {
            trace::hop("engine -> shim", "wait " + id.substr(0, 12) + " (a watcher: the die event, --rm)");
            code = m.wait(id, docker::WaitCondition::not_running);
            info = m.inspect(id);
        } catch (const std::exception& e) {
            trace::note("watcher " + id.substr(0, 12) + ": " + e.what());
            break;
        }
        // A shim that was killed (SIGKILL) left the init running and its resources behind:
        // the dead-shim reaper deletes the runtime's container (killing the init), umounts the
        // netns, frees the lease and the veth. A shim that ended normally left nothing.
        // (255 is what a dead shim's container reports; a normal exit needs no reaping.)
        if (code == 255) {
            try {
                for (auto& dead : shim::reap_dead()) trace::note("reaped what the dead shim of " + dead.substr(0, 12) + " left");
            } catch (const std::exception& e) {
                trace::note(std::string("reap dead shims: ") + e.what());
            }
        }
        std::string name = info.value("Name", "");
        if (!name.empty() && name[0] == '/') name.erase(0, 1);
        events::publish("container", "die", id,
                        {{"exitCode", std::to_string(code)}, {"name", name}, {"image", info["Config"].value("Image", "")}});
        std::unique_lock lk(g_watch_mu);
        try {
            info = m.inspect(id);
        } catch (const std::exception&) {
            break;
        }
        if (running(info)) continue;  // started again meanwhile (restart): watch this life too
        g_watched.erase(id);
        lk.unlock();
        if (info["HostConfig"].value("AutoRemove", false)) {
            trace::hop("engine -> docker::remove", id.substr(0, 12) + " exited and was created with --rm");
            try {
                m.remove(id, true);
            } catch (const std::exception& e) {
                trace::note("auto-remove " + id.substr(0, 12) + ": " + e.what());
            }
        }
        return;
    }
    std::lock_guard lk(g_watch_mu);
    g_watched.erase(id);
}

}  // namespace

void watch(const std::string& id) {
    std::lock_guard lk(g_watch_mu);
    if (!g_watched.insert(id).second) return;
    std::thread(watcher, id).detach();
}

void restore_containers() {
    auto& m = manager();
    // Dead shims' leftovers first (a shim SIGKILLed while no engine ran): its container is
    // exited, its network and runtime state reaped.
    try {
        for (auto& id : shim::reap_dead()) trace::note("reaped the leftovers of dead shim " + id.substr(0, 12));
    } catch (const std::exception& e) {
        trace::note(std::string("reap dead shims: ") + e.what());
    }
    std::vector<docker::Summary> all;
    try {
        all = m.list(true);
    } catch (const std::exception& e) {
        trace::note(std::string("live-restore: cannot list containers: ") + e.what());
        return;
    }
    for (auto& s : all) {
        if (s.foreign) continue;
        if (s.state == "running" || s.state == "paused" || s.state == "restarting") {
            trace::note("live-restore: " + s.id.substr(0, 12) + " (" + s.name + ") runs on under its shim: watching it again");
            watch(s.id);
        } else if (s.state == "exited" || s.state == "dead") {
            // An --rm container that ended while no engine ran.
            try {
                auto info = m.inspect(s.id);
                if (info["HostConfig"].value("AutoRemove", false)) m.remove(s.id, true);
            } catch (const std::exception&) {
            }
        }
    }
}

namespace {

// ---- list, inspect ------------------------------------------------------------------------

// filters={"status":{"exited":true}} (docker ps -f): docker/filters.hpp reads and applies them,
// the same code as the front end's `ps --filter`.
docker::Filters parse_filters(const Ctx& c) {
    nlohmann::json j = query_json(c, "filters");
    return mapped([&] {
        auto out = docker::filters_from_json(j);
        docker::check_filters(out);
        return out;
    });
}

// dockerd's Command (daemon/list.go): Path, then each arg, wrapped in single quotes when it
// holds a space, and nothing escaped ("sh -c 'trap 'exit 0' TERM'"). Scripts that read
// `docker ps --format {{.Command}}` see exactly that.
std::string docker_command(const nlohmann::json& inspect) {
    std::string cmd = inspect.value("Path", "");
    if (inspect.contains("Args") && inspect["Args"].is_array())
        for (auto& a : inspect["Args"]) {
            if (!a.is_string()) continue;
            std::string arg = a.get<std::string>();
            cmd += " " + (arg.find(' ') != std::string::npos ? "'" + arg + "'" : arg);
        }
    return cmd;
}

nlohmann::json summaries(const docker::Filters& filters, bool all) {
    nlohmann::json out = nlohmann::json::array();
    for (auto& s : docker::apply_filters(filters, manager().list(true), all)) {
        auto j = s.to_json();
        if (!s.foreign) {
            try {
                j["Command"] = docker_command(manager().inspect(s.id));
            } catch (const std::exception&) {
                // removed meanwhile: keep the summary's own
            }
        }
        out.push_back(j);
    }
    return out;
}

void list(Ctx& c) {
    auto filters = parse_filters(c);
    auto out = mapped([&] { return summaries(filters, c.flag("all")); });
    // Newest first, as docker ps shows them; limit=N (docker ps -n / -l).
    std::stable_sort(out.begin(), out.end(),
                     [](const nlohmann::json& a, const nlohmann::json& b) { return a.value("Created", 0) > b.value("Created", 0); });
    if (auto lim = c.q("limit"); !lim.empty() && std::atoi(lim.c_str()) > 0) {
        size_t n = static_cast<size_t>(std::atoi(lim.c_str()));
        if (out.size() > n) out.erase(out.begin() + static_cast<long>(n), out.end());
    }
    c.conn.send_json(http::status::ok, out);
}

void inspect(Ctx& c) {
    auto j = mapped([&] { return manager().inspect(c.param("id")); });
    auto ids = exec_ids(j.value("Id", ""));
    j["ExecIDs"] = ids.empty() ? nlohmann::json(nullptr) : nlohmann::json(ids);
    c.conn.send_json(http::status::ok, j);
}

// ---- create, start, stop, ... ----------------------------------------------------------------

void create(Ctx& c) {
    auto body = c.json_body();
    docker::RunOptions opts = options_from_create(body, c.q("name"));
    trace::hop("engine -> docker::create", "RunOptions from the create body: record, bundle, config.json, overlay root");
    std::string id = mapped([&] { return manager().create(opts); });
    c.conn.send_json(http::status::created, {{"Id", id}, {"Warnings", nlohmann::json::array()}});
}

std::string state_of(const std::string& ref) {
    auto j = mapped([&] { return manager().inspect(ref); });
    return j["State"].value("Status", "");
}

void start(Ctx& c) {
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    std::string st = state_of(id);
    if (st == "running" || st == "paused" || st == "restarting") throw not_modified();
    trace::hop("engine -> shim", "start " + id.substr(0, 12) + ": the shim runs `step07_full create` then `start`");
    // A created container's shim is there already: its watcher's wait goes in first, so the shim
    // knows at the exit that the engine cleans up (and runs no exit command of its own).
    if (st == "created") watch(id);
    mapped([&] {
        manager().start(id);
        return 0;
    });
    watch(id);
}

std::optional<int> timeout_of(const Ctx& c) {
    std::string t = c.q("t");
    if (t.empty()) return std::nullopt;
    try {
        return std::stoi(t);
    } catch (const std::exception&) {
        throw bad_request("invalid value for t: " + t);
    }
}

void stop(Ctx& c) {
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    std::string st = state_of(id);
    if (st != "running" && st != "paused" && st != "restarting") throw not_modified();
    auto t = timeout_of(c);
    trace::hop("engine -> shim", "kill " + id.substr(0, 12) + " SIGTERM, after the timeout SIGKILL");
    mapped([&] {
        manager().stop(id, t);
        return 0;
    });
}

void kill(Ctx& c) {
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    std::string st = state_of(id);
    if (st != "running" && st != "paused" && st != "restarting")
        throw conflict("Cannot kill container: " + c.param("id") + ": Container " + id + " is not running");
    std::string sig = c.q("signal", "KILL");
    trace::hop("engine -> shim", "kill " + id.substr(0, 12) + " " + sig);
    mapped([&] {
        manager().kill(id, sig);
        return 0;
    });
}

void restart(Ctx& c) {
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    auto t = timeout_of(c);
    trace::hop("engine -> shim", "restart " + id.substr(0, 12) + ": stop, then a new shim");
    mapped([&] {
        manager().restart(id, t);
        return 0;
    });
    watch(id);
}

void remove(Ctx& c) {
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    bool force = c.flag("force");
    std::string st = state_of(id);
    if (!force && (st == "running" || st == "paused" || st == "restarting"))
        throw conflict("You cannot remove a " + st + " container " + id +
                       ". Stop the container before attempting removal or force remove");
    trace::hop("engine -> shim", "remove " + id.substr(0, 12) + (force ? " (force: kill first)" : "") +
                                     ": runtime delete, overlay, record");
    bool volumes = c.flag("v");
    mapped([&] {
        manager().remove(id, force, volumes);
        return 0;
    });
}

void wait(Ctx& c) {
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    std::string cond = c.q("condition", "not-running");
    docker::WaitCondition wc;
    if (cond == "not-running" || cond.empty()) wc = docker::WaitCondition::not_running;
    else if (cond == "next-exit") wc = docker::WaitCondition::next_exit;
    else if (cond == "removed") wc = docker::WaitCondition::removed;
    else throw bad_request("invalid condition: \"" + cond + "\"");
    // `docker run` waits for next-exit of a container it has just created, and starts it as
    // soon as our headers arrive: a quick container may then be gone before the first look.
    // From "created" the next exit is the first one, which not-running finds either way.
    if (wc == docker::WaitCondition::next_exit && state_of(id) == "created") wc = docker::WaitCondition::not_running;
    // dockerd sends the headers at once (the CLI starts the container only after the wait is
    // registered with API >= 1.30), the body when the condition is met.
    c.conn.begin_stream(http::status::ok, "application/json");
    nlohmann::json res;
    try {
        int code;
        if (wc == docker::WaitCondition::removed) {
            // `docker run --rm`: the exit through the shim (no polling), then the removal the
            // watcher makes, seen when its "destroy" is published on the event bus (any event
            // wakes us to look again; every 100 ms too, for a removal by someone else). The
            // event's number is taken before the look, so one published in between is not missed.
            code = manager().wait(id, docker::WaitCondition::not_running);
            for (std::uint64_t seen = events::last_seq(); manager().exists(id);) {
                for (auto& e : events::after(seen, std::chrono::milliseconds(100))) seen = std::max(seen, e.seq);
                if (c.conn.peer_gone()) return;
            }
        } else {
            code = manager().wait(id, wc);
        }
        res = {{"StatusCode", code}, {"Error", nullptr}};
    } catch (const std::exception& e) {
        res = {{"StatusCode", 255}, {"Error", {{"Message", e.what()}}}};
    }
    c.conn.chunk(res.dump() + "\n");
    c.conn.end_stream();
}

void pause(Ctx& c) {
    mapped([&] {
        manager().pause(c.param("id"));
        return 0;
    });
}

void unpause(Ctx& c) {
    mapped([&] {
        manager().unpause(c.param("id"));
        return 0;
    });
}

void rename(Ctx& c) {
    std::string name = c.q("name");
    if (name.empty()) throw bad_request("name cannot be empty");
    if (name[0] == '/') name.erase(0, 1);
    mapped([&] {
        manager().rename(c.param("id"), name);
        return 0;
    });
}

void resize(Ctx& c) {
    unsigned h = static_cast<unsigned>(std::atoi(c.q("h", "0").c_str()));
    unsigned w = static_cast<unsigned>(std::atoi(c.q("w", "0").c_str()));
    mapped([&] {
        manager().resize(c.param("id"), h, w);
        return 0;
    });
    c.conn.send_empty(http::status::ok);
}

void top(Ctx& c) {
    auto r = mapped([&] { return manager().top(c.param("id"), c.q("ps_args")); });
    c.conn.send_json(http::status::ok, r.to_json());
}

void stats(Ctx& c) {
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    bool stream = c.flag("stream", true) && !c.flag("one-shot");
    nlohmann::json prev;
    auto sample = [&] {
        auto j = mapped([&] { return manager().stats(id); });
        // precpu_stats: the previous sample (the CLI computes CPU % from the two).
        if (!prev.is_null() && prev.contains("cpu_stats")) j["precpu_stats"] = prev["cpu_stats"];
        prev = j;
        return j;
    };
    if (!stream) {
        // stream=false: dockerd takes two samples a second apart, so the CPU % means something.
        sample();
        std::this_thread::sleep_for(std::chrono::milliseconds(c.flag("one-shot") ? 0 : 1000));
        c.conn.send_json(http::status::ok, sample());
        return;
    }
    // stream=true (docker stats): one object a second, until the client goes away (its write
    // fails, or peer_gone() sees the socket closed) or the container stops. The next sample is
    // due a second after the previous one began (a sample itself takes a quarter of a second).
    trace::hop("engine -> cgroup", "stats of " + id.substr(0, 12) + ", one sample a second while the client reads");
    json_stream(
        c.conn,
        [&](auto& send) {
            auto next = std::chrono::steady_clock::now();
            for (;;) {
                next += std::chrono::seconds(1);
                if (!send(sample())) return;
                while (std::chrono::steady_clock::now() < next) {
                    if (c.conn.peer_gone()) return;
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
                if (state_of(id) != "running") return;
            }
        },
        "\n");
}

void prune(Ctx& c) {
    auto r = mapped([&] { return manager().prune(); });
    nlohmann::json ids = r.deleted.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.deleted);
    c.conn.send_json(http::status::ok, {{"ContainersDeleted", ids}, {"SpaceReclaimed", r.space_reclaimed}});
}

// ---- logs, attach -----------------------------------------------------------------------------

void logs(Ctx& c) {
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    auto info = mapped([&] { return manager().inspect(id); });
    bool tty = info["Config"].value("Tty", false);
    docker::LogOptions o;
    o.follow = c.flag("follow");
    o.timestamps = c.flag("timestamps");
    o.show_stdout = c.flag("stdout");
    o.show_stderr = c.flag("stderr");
    if (!o.show_stdout && !o.show_stderr) throw bad_request("Bad parameters: you must choose at least one stream");
    std::string tail = c.q("tail", "all");
    if (tail != "all" && !tail.empty()) {
        try {
            long n = std::stol(tail);
            if (n >= 0) o.tail = static_cast<size_t>(n);
        } catch (const std::exception&) {
            throw bad_request("invalid tail value: " + tail);
        }
    }
    if (!c.q("since").empty()) o.since = static_cast<std::int64_t>(system::parse_time(c.q("since")));
    if (!c.q("until").empty()) o.until = static_cast<std::int64_t>(system::parse_time(c.q("until")));
    c.conn.begin_stream(http::status::ok, tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
    trace::hop("engine -> json.log", std::string("the shim's json-file log of ") + id.substr(0, 12) + (o.follow ? ", followed" : ""));
    mapped([&] {
        manager().logs(id, o, [&](docker::Stream s, std::string_view line, std::string_view time) {
            std::string text = o.timestamps ? std::string(time) + " " + std::string(line) : std::string(line);
            if (tty) return c.conn.chunk(text);
            return c.conn.chunk(hijack::frame(s == docker::Stream::err ? 2 : 1, text));
        });
        return 0;
    });
    c.conn.end_stream();
}

void attach(Ctx& c) {
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    docker::AttachOptions o;
    o.in = c.flag("stdin");
    o.out = c.flag("stdout");
    o.err = c.flag("stderr");
    if (!c.flag("stream") && !c.flag("logs")) throw bad_request("Bad parameters: at least one of stream or logs must be set");
    trace::hop("engine -> shim", "attach " + id.substr(0, 12) + ": the shim's socket becomes the container's stdio");
    unique_fd shim = mapped([&] { return manager().attach(id, o); });
    std::string early;
    unique_fd client = c.conn.hijack(c.req, "application/vnd.docker.raw-stream", early);
    hijack::pump(client.get(), shim.get(), early, o.in);
}

}  // namespace

void add_volume_routes(Router& r);   // volumes.cpp
void add_archive_routes(Router& r);  // archive.cpp

void add_container_routes(Router& r) {
    using V = http::verb;
    add_volume_routes(r);
#ifdef MINIBOX_ENGINE_IMAGES
    add_archive_routes(r);  // docker cp: its tars are made by minibox-engine-worker (jobs.cpp)
#endif
    system::hooks().containers = [] {
        nlohmann::json out = nlohmann::json::array();
        for (auto& s : manager().list(true)) out.push_back(s.to_json());
        return out;
    };
    r.add(V::get, "/containers/json", list);
    r.add(V::post, "/containers/create", create);
    r.add(V::post, "/containers/prune", prune);
    r.add(V::get, "/containers/{id}/json", inspect);
    r.add(V::post, "/containers/{id}/start", start);
    r.add(V::post, "/containers/{id}/stop", stop);
    r.add(V::post, "/containers/{id}/kill", kill);
    r.add(V::post, "/containers/{id}/restart", restart);
    r.add(V::delete_, "/containers/{id}", remove);
    r.add(V::post, "/containers/{id}/wait", wait);
    r.add(V::post, "/containers/{id}/pause", pause);
    r.add(V::post, "/containers/{id}/unpause", unpause);
    r.add(V::post, "/containers/{id}/rename", rename);
    r.add(V::post, "/containers/{id}/resize", resize);
    r.add(V::get, "/containers/{id}/top", top);
    r.add(V::get, "/containers/{id}/stats", stats);
    r.add(V::get, "/containers/{id}/logs", logs);
    r.add(V::post, "/containers/{id}/attach", attach);
}

}  // namespace engine
