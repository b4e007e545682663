// The build (see build.hpp): one function per instruction, each turning the stage's image into
// the next one; the loop prints Docker's classic progress text and asks the cache first.
#include "build.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cache.hpp"
#include "copy.hpp"
#include "dockerfile.hpp"
#include "dockerignore.hpp"
#include "error.hpp"
#include "image/digest.hpp"
#include "image_state.hpp"
#include "meta.hpp"
#include "image_store.hpp"
#include "narrate.hpp"
#include "image/reference.hpp"
#include "state.hpp"
#include "image/store.hpp"
#include "unpack.hpp"

namespace builder {

namespace {

using json = nlohmann::json;

const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct Stage {
    std::string name;  // AS name, lower case ("" when none)
    ImageState img;
    Env args;                       // ARGs declared in this stage, with their values
    std::vector<std::string> order; // ... in declaration order (RUN's "|N K=V")
    bool cmd_set = false;           // CMD given in this stage (ENTRYPOINT resets an inherited one)
};

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

class Builder {
public:
    Builder(const BuildOptions& o, std::string context, const OutputSink& out)
        : o_(o), ctx_(std::move(context)), out_(out), cache_(state::root_dir() + "/builder/cache") {}

    BuildResult run() {
        // Everything the user gave is checked before anything is made on the host.
        for (const auto& t : o_.tags) {
            try {
                (void)images::parse_reference(t);
            } catch (const Error& e) {
                throw Error("invalid argument \"" + t + "\" for \"-t, --tag\" flag: " + e.message());
            }
        }
        if (o_.network != "host" && o_.network != "none" && o_.network != "default" && o_.network != "bridge") {
            throw Error("--network " + o_.network + ": a build's RUN steps run on host (the default), none or bridge");
        }
        struct stat st;
        if (::stat(ctx_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) throw Error("unable to prepare context: path \"" + ctx_ + "\" not found");
        std::string dfpath = o_.dockerfile.empty() ? "Dockerfile" : o_.dockerfile;
        if (dfpath[0] != '/') dfpath = ctx_ + "/" + dfpath;
        std::ifstream in(dfpath);
        if (!in) throw Error("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat " + dfpath + ": no such file or directory");
        std::stringstream ss;
        ss << in.rdbuf();
        Dockerfile df;
        try {
            df = parse(ss.str());
        } catch (const ParseError& e) {
            throw Error("failed to parse " + o_.dockerfile + ": " + e.what());
        }
        for (const auto& w : df.warnings) out("[WARNING]: " + w + "\n");
        ignore_ = Ignore::load(ctx_);
        esc_ = df.escape;
        reap_dead_steps();
        stages_.reserve(65);  // Stage pointers stay valid: at most 64 stages

        const int total = static_cast<int>(df.instructions.size());
        int n = 0;
        Stage* cur = nullptr;
        for (const auto& ins : df.instructions) {
            ++n;
            if (ins.keyword == "FROM" && cur && !o_.target.empty() && cur->name == lower(o_.target)) break;
            out("Step " + std::to_string(n) + "/" + std::to_string(total) + " : " + ins.original + "\n");
            if (ins.keyword == "FROM") {
                if (stages_.size() >= 64) throw Error("too many build stages (64 at most)");
                stages_.push_back(Stage{});
                cur = &stages_.back();
                from(*cur, ins);
                triggers(*cur);
                continue;
            }
            if (!cur) {  // an ARG before the first FROM: usable in FROM lines
                meta_arg(ins);
                continue;
            }
            step(*cur, ins);
        }
        if (!o_.target.empty() && (!cur || cur->name != lower(o_.target))) {
            throw Error("failed to reach build target " + o_.target + " in Dockerfile");
        }
        Stage& last = *cur;
        if (!o_.labels.empty()) {
            // --label: one more image, as Docker's classic builder adds its labels to the last one
            json c = last.img.config;
            for (const auto& [k, v] : o_.labels) c["config"]["Labels"][k] = v;
            std::string key = cache_key(last.img.id, "LABELS " + json(o_.labels).dump());
            if (!reuse(last, key)) {
                last.img.config = c;
                add_history(last.img.config, "/bin/sh -c #(nop)  LABEL " + json(o_.labels).dump(), true);
                commit_state(store_, last.img);
                cache_.put(key, last.img.id);
            }
        }
        if (last.img.id.empty()) throw Error("No image was generated. Is your Dockerfile empty?");
        if (last.img.id == base_legacy_id_) commit_state(store_, last.img);  // FROM a step06 image alone: stored now
        std::vector<std::string> unused;
        for (const auto& [k, v] : o_.build_args)
            if (!used_args_.count(k)) unused.push_back(k);
        if (!unused.empty()) {
            std::string list;
            for (const auto& u : unused) list += (list.empty() ? "" : " ") + u;
            out("[Warning] One or more build-args [" + list + "] were not consumed\n");
        }
        BuildResult r;
        r.image_id = last.img.id;
        r.steps = steps_;
        r.cached = cached_;
        if (o_.quiet) out_(r.image_id + "\n");
        out("Successfully built " + short_id(r.image_id) + "\n");
        for (const auto& t : o_.tags) {
            store_.tag(r.image_id, t);
            std::string shown = images::parse_reference(t).familiar();
            r.tags.push_back(shown);
            out("Successfully tagged " + shown + "\n");
        }
        return r;
    }

private:
    const BuildOptions& o_;
    std::string ctx_;
    const OutputSink& out_;
    images::Store store_;
    Cache cache_;
    Ignore ignore_;
    char esc_ = '\\';
    std::vector<Stage> stages_;  // stays put: reserve below keeps pointers valid
    Env meta_;                   // ARGs before the first FROM
    std::set<std::string> used_args_;
    std::string base_legacy_id_;
    int steps_ = 0, cached_ = 0;

    void out(const std::string& s) {
        if (!o_.quiet) out_(s);
    }

    // Variables for expansion: the stage's ARGs, then its ENV (ENV wins, as in Docker).
    Env vars(const Stage& s) const {
        Env e = s.args;
        for (auto& [k, v] : env_from_list(strings_of(s.img.config["config"].value("Env", json::array())))) e[k] = v;
        return e;
    }

    void meta_arg(const Instruction& ins) {
        for (const auto& p : ins.pairs) {
            std::string name = expand(p.key, meta_, esc_);
            if (auto it = o_.build_args.find(name); it != o_.build_args.end()) {
                meta_[name] = it->second;
                used_args_.insert(name);
            } else if (p.has_value) {
                meta_[name] = expand(p.value, meta_, esc_);
            }
        }
    }

    void from(Stage& s, const Instruction& ins) {
        std::string ref = expand(ins.args[0], meta_, esc_);
        if (ins.args.size() == 3) s.name = lower(ins.args[2].raw);
        // an earlier stage's name
        for (size_t i = 0; i + 1 < stages_.size(); ++i) {
            if (!stages_[i].name.empty() && stages_[i].name == lower(ref)) {
                s.img = stages_[i].img;
                out(" ---> " + short_id(s.img.id) + "\n");
                return;
            }
        }
        if (lower(ref) == "scratch") {
            s.img = scratch();
            return;
        }
        auto r = store_.find(ref);
        if (!r) {
            out(ref + ": not in the store, pulling\n");
            try {
                r = store_.pull(ref);
            } catch (const Error& e) {
                throw Error("pull access denied for " + ref + ", repository does not exist or may require 'docker login': " + e.message());
            }
        }
        s.img = state_of(store_, *r);
        if (r->legacy) base_legacy_id_ = s.img.id;
        out(" ---> " + short_id(s.img.id) + "\n");
    }

    // ONBUILD: the base image's triggers run first, in order, as steps of this stage (each
    // cached as any step); the new image does not pass them on (Docker clears OnBuild).
    void triggers(Stage& s) {
        json& cc = s.img.config["config"];
        auto list = strings_of(cc.value("OnBuild", json::array()));
        if (list.empty()) return;
        cc["OnBuild"] = nullptr;
        out("# Executing " + std::to_string(list.size()) + " build trigger" + (list.size() == 1 ? "" : "s") + "\n");
        for (const auto& t : list) {
            Instruction ins;
            try {
                ins = parse_instruction(t, esc_);
            } catch (const ParseError& e) {
                throw Error("the base image's ONBUILD trigger \"" + t + "\": " + e.reason());
            }
            if (ins.keyword == "ONBUILD" || ins.keyword == "FROM" || ins.keyword == "MAINTAINER")
                throw Error("the base image's ONBUILD trigger \"" + t + "\": " + ins.keyword + " isn't allowed as an ONBUILD trigger");
            step(s, ins);
        }
    }

    // The cache: the image a key names, if it is still in the store.
    bool reuse(Stage& s, const std::string& key) {
        if (o_.no_cache) return false;
        auto id = cache_.get(key);
        if (!id) return false;
        auto r = store_.find(*id);
        if (!r || r->legacy) return false;
        s.img = state_of(store_, *r);
        return true;
    }

    static std::string joined(const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
        return s;
    }

    void step(Stage& s, const Instruction& ins) {
        ++steps_;
        const std::string& kw = ins.keyword;
        if (kw == "RUN") return run(s, ins);
        if (kw == "COPY" || kw == "ADD") return copy(s, ins);
        if (kw == "WORKDIR") return workdir(s, ins);
        std::string text;  // the instruction as it takes effect, for the cache and the history
        json c = s.img.config;
        if (kw == "ARG") {
            text = arg(s, ins);
        } else {
            // the rest change the config only: a new image without a layer ("#(nop)" in its history)
            text = apply_meta(c, ins, vars(s), esc_, s.cmd_set);
        }
        std::string key = cache_key(s.img.id, text);
        if (reuse(s, key)) return hit(s);
        s.img.config = c;
        add_history(s.img.config, "/bin/sh -c #(nop)  " + text, true);
        commit_state(store_, s.img);
        cache_.put(key, s.img.id);
        done(s);
    }

    void hit(const Stage& s) {
        ++cached_;
        // Docker's classic builder says " ---> Using cache"; issue 12 wants BuildKit's word
        // too, so a second build shows CACHED on every step a grep for either finds.
        out(" ---> Using cache (CACHED)\n");
        out(" ---> " + short_id(s.img.id) + "\n");
    }

    std::string arg(Stage& s, const Instruction& ins) {
        Env env = vars(s);
        std::string text;
        for (const auto& p : ins.pairs) {
            std::string name = expand(p.key, env, esc_);
            std::optional<std::string> value;
            if (auto it = o_.build_args.find(name); it != o_.build_args.end()) {
                value = it->second;
                used_args_.insert(name);
            } else if (p.has_value) {
                value = expand(p.value, env, esc_);
            } else if (auto m = meta_.find(name); m != meta_.end()) {
                value = m->second;  // ARG X inside a stage takes the value of a global ARG X
            }
            if (value) s.args[name] = *value;
            if (std::find(s.order.begin(), s.order.end(), name) == s.order.end()) s.order.push_back(name);
            text = "ARG " + name + (value ? "=" + *value : "");
        }
        return text;
    }
    void done(const Stage& s) { out(" ---> " + short_id(s.img.id) + "\n"); }

    std::vector<std::string> run_env(const Stage& s) const {
        auto env = strings_of(s.img.config["config"].value("Env", json::array()));
        Env have = env_from_list(env);
        for (const auto& name : s.order) {
            auto it = s.args.find(name);
            if (it != s.args.end() && !have.count(name)) env.push_back(name + "=" + it->second);
        }
        if (!have.count("PATH")) env.insert(env.begin(), kDefaultPath);
        return env;
    }

    void run(Stage& s, const Instruction& ins) {
        auto cmd = command_of(s.img.config, ins);
        // Build args are part of what RUN sees, so of its cache key and its history (Docker's "|N K=V")
        std::string argtext;
        int nargs = 0;
        for (const auto& name : s.order) {
            auto it = s.args.find(name);
            if (it == s.args.end()) continue;
            ++nargs;
            argtext += " " + name + "=" + it->second;
        }
        std::string created_by = (nargs ? "|" + std::to_string(nargs) + argtext + " " : "") + joined(cmd);
        std::string key = cache_key(s.img.id, "RUN " + json(cmd).dump() + " args" + argtext + " network=" + (o_.network == "default" ? "host" : o_.network));
        if (reuse(s, key)) return hit(s);
        StepRoot root(s.img.dirs);
        out(" ---> Running in " + root.id() + "\n");
        RunSpec rs;
        rs.args = cmd;
        rs.env = run_env(s);
        rs.cwd = s.img.config["config"].value("WorkingDir", "");
        if (rs.cwd.empty()) rs.cwd = "/";
        rs.user = s.img.config["config"].value("User", "");
        rs.network = o_.network == "default" ? "host" : o_.network;
        int status = run_container(root, rs, out_);
        if (status != 0) {
            throw Error("The command '" + joined(cmd) + "' returned a non-zero code: " + std::to_string(status), status);
        }
        root.unmount();
        images::LayerInfo l = store_upper(store_, root.upper());
        out("Removing intermediate container " + root.id() + "\n");
        s.img.layers.push_back(l);
        add_history(s.img.config, created_by, false);
        commit_state(store_, s.img);
        cache_.put(key, s.img.id);
        done(s);
    }

    void workdir(Stage& s, const Instruction& ins) {
        Env env = vars(s);
        std::string w = expand(ins.args[0], env, esc_);
        std::string cur = s.img.config["config"].value("WorkingDir", "");
        std::string abs = w.starts_with("/") ? w : (cur.empty() ? "/" : cur) + "/" + w;
        abs = "/" + clean_path(abs);
        std::string key = cache_key(s.img.id, "WORKDIR " + abs);
        if (reuse(s, key)) return hit(s);
        s.img.config["config"]["WorkingDir"] = abs;
        // Docker makes the directory: a layer when it was not there
        StepRoot root(s.img.dirs);
        {
            int fd = mkdirs_in_root(root.merged(), abs);
            ::close(fd);
        }
        root.unmount();
        bool empty = root.upper_empty();
        if (!empty) s.img.layers.push_back(store_upper(store_, root.upper()));
        add_history(s.img.config, "/bin/sh -c #(nop) WORKDIR " + abs, empty);
        commit_state(store_, s.img);
        cache_.put(key, s.img.id);
        done(s);
    }

    void copy(Stage& s, const Instruction& ins) {
        const std::string& kw = ins.keyword;
        Env env = vars(s);
        std::vector<std::string> words;
        if (ins.json) {
            for (const auto& a : ins.args) words.push_back(a.raw);
        } else {
            for (const auto& a : ins.args)
                for (auto& w : expand_words(a, env, esc_)) words.push_back(w);
        }
        if (words.size() < 2) throw Error(kw + " requires at least two arguments");
        std::string dest = dest_path(s.img.config["config"].value("WorkingDir", ""), words.back());
        words.pop_back();
        CopyOptions co;
        co.add = kw == "ADD";
        std::string flags;
        std::optional<std::string> chown_text;
        if (auto it = ins.flags.find("chown"); it != ins.flags.end()) {
            chown_text = expand(it->second, env, esc_);
            flags += " --chown=" + *chown_text;
        }
        if (auto it = ins.flags.find("chmod"); it != ins.flags.end()) {
            std::string m = expand(it->second, env, esc_);
            if (m.empty() || m.find_first_not_of("01234567") != std::string::npos || m.size() > 4) {
                throw Error(kw + " --chmod=" + m + ": an octal mode is expected");
            }
            co.chmod = static_cast<unsigned>(std::stoul(m, nullptr, 8));
            flags += " --chmod=" + m;
        }
        // Where the files come from: the context, or another stage's (or image's) root
        std::optional<ImageState> from;
        if (auto it = ins.flags.find("from"); it != ins.flags.end()) {
            std::string f = expand(it->second, env, esc_);
            for (size_t i = 0; i + 1 < stages_.size(); ++i) {
                if (stages_[i].name == lower(f) || std::to_string(i) == f) from = stages_[i].img;
            }
            if (!from) {
                auto r = store_.find(f);
                if (!r) throw Error(kw + " --from=" + f + ": no such build stage or image");
                from = state_of(store_, *r);
            }
            flags += " --from=" + short_id(from->id);
        }
        std::string files;
        std::vector<Source> srcs;
        std::unique_ptr<StepRoot> other;  // the other stage's root, mounted while copying
        if (from) {
            // that image's content is named by its id: no need to hash its files
            files = "image " + from->id;
            for (const auto& w : words) files += " " + w;
        } else {
            srcs = resolve_sources(ctx_, words, &ignore_, kw);
            images::Sha256 h;
            for (const auto& src : srcs) {
                std::string rel = src.rel;
                auto skip = [&](const std::string& r) { return ignore_.excluded(rel.empty() ? r : rel + "/" + r); };
                std::string line = src.rel + " " + files_digest({{src.host, src.rel}}, skip) +
                                   (co.add && !src.dir && is_archive(src.host) ? " archive" : "") + "\n";
                h.update(line.data(), line.size());
            }
            files = h.digest();
        }
        std::string text = kw + flags + " " + json(words).dump() + " " + dest;
        std::string key = cache_key(s.img.id, text, files);
        if (reuse(s, key)) return hit(s);
        StepRoot root(s.img.dirs);
        if (chown_text) co.chown = resolve_user(root.merged(), *chown_text);
        if (from) {
            other = std::make_unique<StepRoot>(from->dirs);
            // names (and wildcards) resolved in that root; realpath keeps them inside it
            srcs = resolve_sources(other->merged(), words, nullptr, kw);
        } else {
            co.ignore = &ignore_;
        }
        copy_sources(root.merged(), srcs, dest, co, kw);
        other.reset();
        root.unmount();
        s.img.layers.push_back(store_upper(store_, root.upper()));
        std::string what = srcs.size() == 1 && !srcs[0].dir ? "file:" : "multi:";
        if (srcs.size() == 1 && srcs[0].dir) what = "dir:";
        add_history(s.img.config, "/bin/sh -c #(nop) " + kw + " " + what + files.substr(files.find(':') + 1) + " in " + dest + " ", false);
        commit_state(store_, s.img);
        cache_.put(key, s.img.id);
        done(s);
    }
};

}  // namespace

BuildResult build(const BuildOptions& opts, const std::string& context, const OutputSink& out) {
    auto t0 = std::chrono::steady_clock::now();
    Builder b(opts, context, out);
    BuildResult r = b.run();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    narrate::note("builder", std::to_string(r.steps) + " steps, " + std::to_string(r.cached) + " from the cache, " + std::to_string(ms) + " ms");
    return r;
}

BuildResult build_from_tar(const BuildOptions& opts, int fd, const OutputSink& out) {
    std::string dir = state::root_dir() + "/builder/contexts";
    std::string cur;
    for (size_t k = 1; k != std::string::npos;) {
        k = dir.find('/', k + 1);
        cur = dir.substr(0, k);
        if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) throw SysError("mkdir(\"" + cur + "\")", errno);
    }
    std::string ctx = dir + "/" + state::new_container_id();
    narrate::sys({"builder", "mkdir(\"" + ctx + "\", 0700)", "the build context sent as a tar is unpacked here", ""},
                 [&] { return ::mkdir(ctx.c_str(), 0700); });
    try {
        image::UnpackOptions uo;
        uo.whiteouts = false;
        image::unpack_layer("/proc/self/fd/" + std::to_string(fd), ctx, uo);
        BuildResult r = build(opts, ctx, out);
        image::remove_tree(ctx);
        return r;
    } catch (...) {
        image::remove_tree(ctx);
        throw;
    }
}

}  // namespace builder
