#include "meta.hpp"

#include <algorithm>

#include "error.hpp"

namespace builder {

using json = nlohmann::json;

namespace {
std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

std::vector<std::string> strings_of(const json& j) {
    std::vector<std::string> v;
    if (j.is_array())
        for (const auto& e : j)
            if (e.is_string()) v.push_back(e.get<std::string>());
    return v;
}

std::vector<std::string> shell_of(const json& c) {
    std::vector<std::string> sh;
    if (c.contains("config") && c["config"].is_object()) sh = strings_of(c["config"].value("Shell", json::array()));
    return sh.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : sh;
}

std::vector<std::string> command_of(const json& c, const Instruction& ins) {
    std::vector<std::string> v;
    if (ins.json) {
        for (const auto& a : ins.args) v.push_back(a.raw);
        return v;
    }
    if (ins.args.empty()) return v;
    v = shell_of(c);
    v.push_back(ins.args[0].raw);
    return v;
}

bool is_meta(const std::string& kw) {
    return kw == "ENV" || kw == "LABEL" || kw == "EXPOSE" || kw == "USER" || kw == "CMD" || kw == "ENTRYPOINT" || kw == "SHELL" ||
           kw == "VOLUME" || kw == "STOPSIGNAL" || kw == "MAINTAINER" || kw == "WORKDIR" || kw == "ONBUILD" || kw == "HEALTHCHECK";
}

std::string apply_meta(json& c, const Instruction& ins, const Env& env, char esc, bool& cmd_set) {
    if (!c.contains("config") || !c["config"].is_object()) c["config"] = json::object();
    json& cc = c["config"];
    const std::string& kw = ins.keyword;
    std::string text;
    if (kw == "ENV") {
        auto list = strings_of(cc.value("Env", json::array()));
        for (const auto& p : ins.pairs) {
            // ENV A=1 B=$A: B gets the A from before this line, as in Docker (one expansion per line)
            std::string k = expand(p.key, env, esc), v = expand(p.value, env, esc);
            auto it = std::find_if(list.begin(), list.end(), [&](const std::string& kv) { return kv.rfind(k + "=", 0) == 0 || kv == k; });
            if (it != list.end()) *it = k + "=" + v;
            else list.push_back(k + "=" + v);
            text += " " + k + "=" + v;
        }
        cc["Env"] = list;
        return "ENV" + text;
    }
    if (kw == "LABEL") {
        if (!cc.contains("Labels") || !cc["Labels"].is_object()) cc["Labels"] = json::object();
        for (const auto& p : ins.pairs) {
            std::string k = expand(p.key, env, esc), v = expand(p.value, env, esc);
            cc["Labels"][k] = v;
            text += " " + json(k).dump() + "=" + json(v).dump();
        }
        return "LABEL" + text;
    }
    if (kw == "EXPOSE") {
        if (!cc.contains("ExposedPorts") || !cc["ExposedPorts"].is_object()) cc["ExposedPorts"] = json::object();
        for (const auto& a : ins.args)
            for (auto port : expand_words(a, env, esc)) {
                if (port.find('/') == std::string::npos) port += "/tcp";
                cc["ExposedPorts"][lower(port)] = json::object();
                text += " " + lower(port);
            }
        return "EXPOSE" + text;
    }
    if (kw == "USER") {
        cc["User"] = expand(ins.args[0], env, esc);
        return "USER " + cc["User"].get<std::string>();
    }
    if (kw == "WORKDIR") {  // commit -c only: build makes the directory too (build.cpp)
        std::string w = expand(ins.args[0], env, esc);
        std::string cur = cc.value("WorkingDir", "");
        cc["WorkingDir"] = w.starts_with("/") ? w : (cur.empty() ? "/" : cur) + "/" + w;
        return "WORKDIR " + cc["WorkingDir"].get<std::string>();
    }
    if (kw == "CMD") {
        cc["Cmd"] = command_of(c, ins);
        cmd_set = true;
        return "CMD " + cc["Cmd"].dump();
    }
    if (kw == "ENTRYPOINT") {
        auto e = command_of(c, ins);
        cc["Entrypoint"] = e.empty() ? json(nullptr) : json(e);
        if (!cmd_set) cc["Cmd"] = nullptr;  // an inherited CMD does not go with a new ENTRYPOINT
        return "ENTRYPOINT " + cc["Entrypoint"].dump();
    }
    if (kw == "SHELL") {
        std::vector<std::string> v;
        for (const auto& a : ins.args) v.push_back(a.raw);
        cc["Shell"] = v;
        return "SHELL " + json(v).dump();
    }
    if (kw == "VOLUME") {
        if (!cc.contains("Volumes") || !cc["Volumes"].is_object()) cc["Volumes"] = json::object();
        for (const auto& a : ins.args)
            for (const auto& v : ins.json ? std::vector<std::string>{a.raw} : expand_words(a, env, esc)) {
                cc["Volumes"][v] = json::object();
                text += " " + v;
            }
        return "VOLUME" + text;
    }
    if (kw == "STOPSIGNAL") {
        cc["StopSignal"] = expand(ins.args[0], env, esc);
        return "STOPSIGNAL " + cc["StopSignal"].get<std::string>();
    }
    if (kw == "ONBUILD") {
        // Stored as written (not expanded: that happens in the build that runs it), as Docker.
        if (!cc.contains("OnBuild") || !cc["OnBuild"].is_array()) cc["OnBuild"] = json::array();
        cc["OnBuild"].push_back(ins.args[0].raw);
        return "ONBUILD " + ins.args[0].raw;
    }
    if (kw == "HEALTHCHECK") {
        // Docker's config.Healthcheck: Test ["NONE"] | ["CMD", args...] | ["CMD-SHELL", "text"],
        // durations in nanoseconds, 0 (absent) meaning "the default" (30s, 30s, 0s, 3 retries).
        json h = json::object();
        if (ins.args[0].raw == "NONE") {
            h["Test"] = json::array({"NONE"});
        } else {
            json test = json::array();
            if (ins.json) {
                test.push_back("CMD");
                for (size_t k = 1; k < ins.args.size(); ++k) test.push_back(ins.args[k].raw);
            } else {
                test = json::array({"CMD-SHELL", ins.args[1].raw});
            }
            h["Test"] = test;
            static const std::vector<std::pair<std::string, std::string>> names = {
                {"interval", "Interval"}, {"timeout", "Timeout"}, {"start-period", "StartPeriod"}, {"start-interval", "StartInterval"}};
            for (const auto& [flag, field] : names) {
                auto it = ins.flags.find(flag);
                if (it == ins.flags.end()) continue;
                std::string why;
                auto ns = parse_duration(it->second.raw, why);
                if (!ns) throw Error("HEALTHCHECK --" + flag + ": " + why);
                if (*ns) h[field] = *ns;
            }
            if (auto it = ins.flags.find("retries"); it != ins.flags.end()) {
                long long n = std::stoll(it->second.raw);
                if (n) h["Retries"] = n;
            }
        }
        cc["Healthcheck"] = h;
        return "HEALTHCHECK " + h.dump();
    }
    if (kw == "MAINTAINER") {
        c["author"] = ins.args[0].raw;
        return "MAINTAINER " + ins.args[0].raw;
    }
    throw Error(kw + " cannot change an image's config");
}

}  // namespace builder
