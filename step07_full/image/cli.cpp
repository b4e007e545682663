// The image command lines, docker's words and output (pull, push, images, image inspect, rmi,
// image prune, tag, load, save). Every command is one call on images::Store; this file parses
// and prints.
#include "cli.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <ctime>
#include <iostream>

#include "cli.hpp"
#include "digest.hpp"
#include "error.hpp"
#include "narrate.hpp"
#include "progress.hpp"
#include "store.hpp"
#include "unique_fd.hpp"
#include "../../common/cli.hpp"

namespace image_cli {
namespace {

using images::Resolved;
using images::Store;

const char* kWords[] = {"images", "image", "pull", "push", "load", "save", "tag", "rmi"};

// go-units' HumanDuration, as `docker images` prints CREATED.
std::string human_ago(const std::string& rfc3339) {
    if (rfc3339.empty()) return "N/A";
    std::tm tm{};
    if (!strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return "N/A";
    double s = std::difftime(std::time(nullptr), timegm(&tm));
    if (s < 1) return "Less than a second ago";
    if (s < 60) return std::to_string(static_cast<long>(s)) + " seconds ago";
    double m = s / 60, h = m / 60, d = h / 24;
    auto n = [](double v) { return std::to_string(static_cast<long>(v)); };
    if (m < 2) return "About a minute ago";
    if (m < 60) return n(m) + " minutes ago";
    if (h < 1.5) return "About an hour ago";
    if (h < 48) return n(h + 0.5) + " hours ago";
    if (d < 14) return n(d) + " days ago";
    if (d < 60) return n(d / 7) + " weeks ago";
    if (d < 365 * 2) return n(d / 30) + " months ago";
    return n(d / 365) + " years ago";
}

struct Row {
    std::string repo, tag, id, created, size;
};

int cmd_images(Store& s, bool quiet, bool all, bool no_trunc, const std::string& filter_repo) {
    std::vector<Row> rows;
    std::vector<std::string> ids;
    for (const auto& img : s.list()) {
        if (img.intermediate && !all) continue;  // a build's untagged steps, as docker hides them
        std::string id = no_trunc ? img.id : images::short_id(img.id);
        std::vector<std::pair<std::string, std::string>> names;
        for (const auto& t : img.repo_tags) {
            auto c = t.rfind(':');
            names.push_back({t.substr(0, c), t.substr(c + 1)});
        }
        if (names.empty()) names.push_back({"<none>", "<none>"});
        for (const auto& [repo, tag] : names) {
            if (!filter_repo.empty() && repo != filter_repo && repo + ":" + tag != filter_repo) continue;
            rows.push_back({repo, tag, id, human_ago(img.created), images::docker_size(img.size)});
            if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
        }
    }
    if (quiet) {
        for (const auto& id : ids) std::printf("%s\n", id.c_str());
        return 0;
    }
    std::size_t w[4] = {10, 3, 8, 7};
    for (const auto& r : rows) {
        w[0] = std::max(w[0], r.repo.size());
        w[1] = std::max(w[1], r.tag.size());
        w[2] = std::max(w[2], r.id.size());
        w[3] = std::max(w[3], r.created.size());
    }
    auto pr = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d, const std::string& e) {
        std::printf("%-*s   %-*s   %-*s   %-*s   %s\n", int(w[0]), a.c_str(), int(w[1]), b.c_str(), int(w[2]), c.c_str(),
                    int(w[3]), d.c_str(), e.c_str());
    };
    pr("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
    for (const auto& r : rows) pr(r.repo, r.tag, r.id, r.created, r.size);
    return 0;
}

nlohmann::json inspect_json(const Resolved& r) {
    nlohmann::json layers = nlohmann::json::array();
    if (r.config.contains("rootfs")) layers = r.config["rootfs"].value("diff_ids", nlohmann::json::array());
    std::string lower;
    for (auto it = r.image.layers.rbegin(); it != r.image.layers.rend(); ++it) lower += (lower.empty() ? "" : ":") + *it;
    return {{"Id", r.id},
            {"RepoTags", r.repo_tags},
            {"RepoDigests", r.repo_digests},
            {"Parent", r.parent},
            {"Comment", r.config.value("comment", "")},
            {"Created", r.created},
            {"Author", r.config.value("author", "")},
            {"Config", r.config.value("config", nlohmann::json::object())},
            {"Architecture", r.config.value("architecture", "")},
            {"Os", r.config.value("os", "")},
            {"Size", r.size},
            {"VirtualSize", r.size},
            {"GraphDriver", {{"Name", "overlay2"}, {"Data", {{"LowerDir", lower}}}}},
            {"RootFS", {{"Type", "layers"}, {"Layers", layers}}},
            {"Metadata", {{"LastTagTime", "0001-01-01T00:00:00Z"}}}};
}

images::RegistryOptions registry_options(const std::string& platform, const std::vector<std::string>& insecure) {
    images::RegistryOptions o;
    o.platform = platform;
    o.insecure_registries = insecure;
    return o;
}

}  // namespace

bool claims(int argc, char** argv) {
    int i = 1;
    if (i < argc && std::strcmp(argv[i], "--explain") == 0) i++;  // ours; runc has no such option
    if (i >= argc) return false;
    for (const char* w : kWords)
        if (std::strcmp(argv[i], w) == 0) return true;
    return false;
}

int main(int argc, char** argv) {
    CLI::App app{"step07_full's image commands (docker's words)", "step07_full"};
    app.require_subcommand(1);
    bool explain = false;
    app.add_flag("--explain", explain, "print each step (request, rename, lock) and why");
    std::string ref, platform, target, file, filter;
    std::vector<std::string> refs, insecure;
    bool quiet = false, force = false, all = false, no_trunc = false;
    std::uint64_t chunk = 0;
    int parallel = 3;

    auto add_pull = [&](CLI::App* c) {
        c->add_option("--platform", platform, "OS/ARCH[/VARIANT] to choose from an index (default: this machine)");
        c->add_option("--insecure-registry", insecure, "HOST[:PORT] that may be reached over plain http (repeatable)")->expected(1);
        c->add_option("--max-concurrent-downloads", parallel, "layers fetched at the same time")->check(CLI::Range(1, 16));
        c->add_flag("-q,--quiet", quiet, "print only the image's name");
        c->add_option("REF", ref, "[HOST[:PORT]/]NAME[:TAG|@DIGEST]")->required();
    };
    auto add_push = [&](CLI::App* c) {
        c->add_option("--insecure-registry", insecure, "HOST[:PORT] that may be reached over plain http (repeatable)")->expected(1);
        c->add_option("--chunk-size", chunk, "upload each blob in PATCH chunks of this many bytes (0: one PUT)");
        c->add_flag("-q,--quiet", quiet, "no progress");
        c->add_option("REF", ref, "NAME[:TAG] of an image in the store")->required();
        c->add_option("DESTINATION", target, "push it as this [HOST[:PORT]/]NAME[:TAG] (as podman's push)");
    };
    auto add_ls = [&](CLI::App* c) {
        c->add_flag("-q,--quiet", quiet, "only ids");
        c->add_flag("-a,--all", all, "also the intermediate images of builds (untagged parents of other images)");
        c->add_flag("--no-trunc", no_trunc, "full ids");
        c->add_option("REPOSITORY", filter, "only this repository[:tag]");
    };
    auto add_rm = [&](CLI::App* c) {
        c->add_flag("-f,--force", force, "untag even if a container uses it; remove an id with several tags");
        c->add_option("IMAGE", refs, "names or ids")->required();
    };
    auto add_tag = [&](CLI::App* c) {
        c->add_option("SOURCE", ref, "image")->required();
        c->add_option("TARGET", target, "NAME[:TAG]")->required();
    };
    auto add_load = [&](CLI::App* c) {
        c->add_option("-i,--input", file, "tar archive (default: stdin)");
        c->add_flag("-q,--quiet", quiet, "no progress");
    };
    auto add_save = [&](CLI::App* c) {
        c->add_option("-o,--output", file, "file to write (default: stdout, if it is not a terminal)");
        c->add_option("IMAGE", refs, "images")->required();
    };
    auto add_inspect = [&](CLI::App* c) { c->add_option("IMAGE", refs, "images")->required(); };
    auto add_prune = [&](CLI::App* c) {
        c->add_flag("-a,--all", all, "every image no container uses, not only untagged ones");
        c->add_flag("-f,--force", force, "do not ask");
    };

    std::string action;
    auto sub = [&](CLI::App* parent, const std::string& name, const std::string& what, auto add, const std::string& act) {
        auto* c = parent->add_subcommand(name, what);
        add(c);
        c->callback([&action, act] { action = act; });
        return c;
    };
    sub(&app, "pull", "download an image from a registry", add_pull, "pull");
    sub(&app, "push", "upload an image to a registry", add_push, "push");
    sub(&app, "images", "list images", add_ls, "ls");
    sub(&app, "rmi", "remove images", add_rm, "rm");
    sub(&app, "tag", "give an image another name", add_tag, "tag");
    sub(&app, "load", "load images from a docker-archive or OCI tar", add_load, "load");
    sub(&app, "save", "write images as a tar (docker-archive and OCI layout)", add_save, "save");
    auto* image = app.add_subcommand("image", "manage images");
    image->require_subcommand(1);
    sub(image, "ls", "list images", add_ls, "ls")->alias("list");
    sub(image, "pull", "download an image", add_pull, "pull");
    sub(image, "push", "upload an image", add_push, "push");
    sub(image, "inspect", "the images' JSON", add_inspect, "inspect");
    sub(image, "rm", "remove images", add_rm, "rm")->alias("remove");
    sub(image, "prune", "remove unused images", add_prune, "prune");
    sub(image, "tag", "give an image another name", add_tag, "tag");
    sub(image, "load", "load images from a tar", add_load, "load");
    sub(image, "save", "write images as a tar", add_save, "save");

    if (auto rc = cli::parse_args(app, argc, argv)) return *rc;
    if (explain) narrate::set_mode(narrate::Mode::explain);
    return cli::guarded([&]() -> int {
        Store s;
        bool tty = ::isatty(STDOUT_FILENO);
        auto printer = quiet ? images::ProgressFn{} : images::make_printer(stdout, tty);
        if (action == "pull") {
            auto o = registry_options(platform, insecure);
            o.parallel = parallel;
            // No tag and no digest written after the last "/": docker says which tag it takes.
            std::string last = ref.substr(ref.rfind('/') == std::string::npos ? 0 : ref.rfind('/') + 1);
            if (last.find(':') == std::string::npos && last.find('@') == std::string::npos && !quiet)
                std::printf("Using default tag: latest\n");
            s.pull(ref, o, printer);
            std::printf("%s\n", images::parse_reference(ref).str().c_str());
            return 0;
        }
        if (action == "push") {
            auto o = registry_options("", insecure);
            o.chunk_size = chunk;
            s.push(ref, o, printer, target);
            return 0;
        }
        if (action == "ls") return cmd_images(s, quiet, all, no_trunc, filter);
        if (action == "inspect") {
            nlohmann::json out = nlohmann::json::array();
            int rc = 0;
            for (const auto& r : refs) {
                auto found = s.find(r);
                if (!found) {
                    std::fprintf(stderr, "Error: No such image: %s\n", r.c_str());
                    rc = 1;
                    continue;
                }
                out.push_back(inspect_json(*found));
            }
            std::printf("%s\n", out.dump(4).c_str());
            return rc;
        }
        if (action == "rm") {
            int rc = 0;
            for (const auto& r : refs) {
                try {
                    auto res = s.remove(r, force);
                    for (const auto& u : res.untagged) std::printf("Untagged: %s\n", u.c_str());
                    for (const auto& d : res.deleted) std::printf("Deleted: %s\n", d.c_str());
                } catch (const Error& e) {
                    std::fprintf(stderr, "Error response from daemon: %s\n", e.line().c_str());
                    rc = 1;
                }
            }
            return rc;
        }
        if (action == "prune") {
            auto res = s.prune(all);
            if (!res.untagged.empty() || !res.deleted.empty()) std::printf("Deleted Images:\n");
            for (const auto& u : res.untagged) std::printf("untagged: %s\n", u.c_str());
            for (const auto& d : res.deleted) std::printf("deleted: %s\n", d.c_str());
            std::printf("\nTotal reclaimed space: %s\n", images::docker_size(res.reclaimed).c_str());
            return 0;
        }
        if (action == "tag") {
            s.tag(ref, target);
            return 0;
        }
        if (action == "load") {
            unique_fd in;
            int fd = STDIN_FILENO;
            if (!file.empty()) {
                in.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
                if (in.get() < 0) throw SysError("open(\"" + file + "\")", errno);
                fd = in.get();
            } else if (::isatty(STDIN_FILENO)) {
                throw Error("requested load from stdin, but stdin is empty").with_hint("use -i FILE or a pipe");
            }
            for (const auto& line : s.load(fd)) std::printf("%s\n", line.c_str());
            return 0;
        }
        if (action == "save") {
            int fd = STDOUT_FILENO;
            unique_fd out;
            std::string tmp;
            if (!file.empty()) {
                // Written next to the target and renamed: a failed save leaves no half file.
                tmp = file + ".tmp." + std::to_string(::getpid());
                out.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
                if (out.get() < 0) throw SysError("open(\"" + tmp + "\", O_CREAT)", errno);
                fd = out.get();
            } else if (tty) {
                throw Error("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            try {
                s.save(refs, fd);
            } catch (...) {
                if (!tmp.empty()) ::unlink(tmp.c_str());
                throw;
            }
            if (!tmp.empty() && ::rename(tmp.c_str(), file.c_str()) < 0) throw SysError("rename(\"" + file + "\")", errno);
            return 0;
        }
        throw Error("unknown image command");
    });
}

}  // namespace image_cli
