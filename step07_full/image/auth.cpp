// Registry auth: the challenge in a 401's WWW-Authenticate header, docker's stored
// credentials, and the token flow (Docker's token spec: GET REALM?service=S&scope=repository:
// NAME:pull,push with Basic credentials, answer {"token": ...} or {"access_token": ...}).
// Credentials and tokens are never printed, not even with --explain.
//
// Stored credentials, as docker looks for them (cli/config/configfile): config.json's
// credHelpers[HOST] names a helper for that registry; else credsStore names one for all; else
// the auths entry. A helper is a program docker-credential-NAME on PATH: `get` reads the server
// (HOST[:PORT], or https://index.docker.io/v1/ for Docker Hub) on stdin and answers
// {"ServerURL", "Username", "Secret"} on stdout (Username "<token>": Secret is an identity
// token); "credentials not found" means none. posix_spawn(3), pipe(2), waitpid(2).
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "files.hpp"
#include "narrate.hpp"
#include "registry.hpp"
#include "unique_fd.hpp"

extern char** environ;

namespace images::registry {
namespace {

std::string base64_decode(const std::string& in) {
    std::string out((in.size() / 4 + 1) * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    if (n < 0) return "";
    out.resize(static_cast<std::size_t>(n));
    // EVP_DecodeBlock counts the padding as zero bytes.
    auto pad = std::count(in.end() - std::min<std::ptrdiff_t>(2, static_cast<std::ptrdiff_t>(in.size())), in.end(), '=');
    out.resize(out.size() - static_cast<std::size_t>(pad));
    return out;
}

std::string base64_encode(const std::string& in) {
    std::string out(((in.size() + 2) / 3) * 4 + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string url_escape(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace

std::optional<Challenge> parse_challenge(const std::string& header) {
    auto sp = header.find(' ');
    if (header.empty()) return std::nullopt;
    Challenge c;
    c.scheme = header.substr(0, sp);
    std::transform(c.scheme.begin(), c.scheme.end(), c.scheme.begin(), [](unsigned char x) { return std::tolower(x); });
    if (c.scheme != "basic" && c.scheme != "bearer") return std::nullopt;
    // key="value" pairs, comma separated; a value may hold commas (scope="repository:x:pull,push").
    std::size_t i = sp == std::string::npos ? header.size() : sp + 1;
    while (i < header.size()) {
        while (i < header.size() && (header[i] == ' ' || header[i] == ',')) i++;
        auto eq = header.find('=', i);
        if (eq == std::string::npos) break;
        std::string key = header.substr(i, eq - i), value;
        i = eq + 1;
        if (i < header.size() && header[i] == '"') {
            for (i++; i < header.size() && header[i] != '"'; i++) {
                if (header[i] == '\\' && i + 1 < header.size()) i++;
                value += header[i];
            }
            i++;
        } else {
            auto end = header.find(',', i);
            value = header.substr(i, end == std::string::npos ? std::string::npos : end - i);
            i = end == std::string::npos ? header.size() : end;
        }
        std::transform(key.begin(), key.end(), key.begin(), [](unsigned char x) { return std::tolower(x); });
        c.params[key] = value;
    }
    return c;
}

namespace {

// Runs `docker-credential-<helper> get` with `server` on stdin; its stdout (at most 64 KiB).
// Exit status in `status`. Never narrated with what it prints: that is the secret.
std::string run_helper(const std::string& helper, const std::string& server, int& status) {
    for (char c : helper)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
            throw Error("config.json: credential helper name \"" + helper + "\" is not a plain name");
    std::string prog = "docker-credential-" + helper;
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) < 0) throw SysError("pipe2(O_CLOEXEC)", errno);
    unique_fd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) < 0) throw SysError("pipe2(O_CLOEXEC)", errno);
    unique_fd out_r(out[0]), out_w(out[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_r.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), STDOUT_FILENO);
    std::string get = "get";
    char* argv[] = {prog.data(), get.data(), nullptr};
    pid_t pid = -1;
    int spawn_errno = 0;
    try {
        narrate::sys({"image", "posix_spawnp(\"" + prog + "\", [\"" + prog + "\", \"get\"])",
                      "docker's credential helper protocol: the server on stdin, JSON on stdout", ""},
                     [&] {
                         int e = ::posix_spawnp(&pid, prog.c_str(), &fa, nullptr, argv, environ);
                         spawn_errno = e;
                         if (e != 0) errno = e;
                         return e == 0 ? 0 : -1;
                     });
    } catch (const SysError&) {
        posix_spawn_file_actions_destroy(&fa);
        if (spawn_errno == ENOENT)
            throw Error("credential helper " + prog + " not found in PATH (named by config.json)")
                .with_hint("install it, or remove credsStore/credHelpers from config.json");
        throw;
    }
    posix_spawn_file_actions_destroy(&fa);
    in_r.reset();
    out_w.reset();
    // A helper that exits without reading stdin must not kill us with SIGPIPE.
    struct sigaction ign {}, old {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old);
    std::string line = server + "\n";
    (void)!::write(in_w.get(), line.data(), line.size());
    ::sigaction(SIGPIPE, &old, nullptr);
    in_w.reset();
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(out_r.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (text.size() < (64u << 10)) text.append(buf, static_cast<std::size_t>(n));
    }
    int ws = 0;
    while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    return text;
}

std::optional<Credentials> from_helper(const std::string& helper, const std::string& server, const std::string& path) {
    narrate::note("image", "credentials for " + server + " from the helper docker-credential-" + helper + " (" + path + ")");
    int status = 0;
    std::string text = run_helper(helper, server, status);
    if (status != 0) {
        // The helpers' own words for "none stored" (credentials.ErrCredentialsNotFound).
        if (text.find("credentials not found") != std::string::npos) return std::nullopt;
        // What a failing helper prints is its error message, not a secret; kept short.
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        throw Error("docker-credential-" + helper + " get " + server + ": exit " + std::to_string(status) +
                    (text.empty() ? "" : ": " + text.substr(0, 200)));
    }
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        throw Error("docker-credential-" + helper + " get " + server + ": its answer is not JSON");  // not quoted: secrets
    }
    if (!j.is_object()) throw Error("docker-credential-" + helper + " get " + server + ": its answer is not a JSON object");
    Credentials c;
    std::string user = j.value("Username", ""), secret = j.value("Secret", "");
    if (user == "<token>") c.identity_token = secret;  // docker's marker for an identity token
    else {
        c.username = user;
        c.password = secret;
    }
    if (c.username.empty() && c.password.empty() && c.identity_token.empty()) return std::nullopt;
    return c;
}

}  // namespace

std::optional<Credentials> credentials_for(const std::string& host, const std::string& path_given) {
    std::string path = path_given;
    if (path.empty()) {
        if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) path = std::string(d) + "/config.json";
        else if (const char* h = std::getenv("HOME"); h && *h) path = std::string(h) + "/.docker/config.json";
        else return std::nullopt;
    }
    std::string text = files::read(path);
    if (text.empty()) return std::nullopt;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        throw Error(path + ": not valid JSON");
    }
    if (!j.is_object()) throw Error(path + ": not a JSON object");
    // The key docker stores a registry's credentials under (registry.GetAuthConfigKey).
    std::string server = host == "docker.io" ? "https://index.docker.io/v1/" : host;
    // 1. credHelpers: a helper for this one registry; 2. credsStore: a helper for every registry.
    if (j.contains("credHelpers") && j["credHelpers"].is_object()) {
        for (const auto& k : {server, host})
            if (j["credHelpers"].contains(k) && j["credHelpers"][k].is_string() && !j["credHelpers"][k].get<std::string>().empty())
                return from_helper(j["credHelpers"][k].get<std::string>(), server, path);
    }
    if (j.contains("credsStore") && j["credsStore"].is_string() && !j["credsStore"].get<std::string>().empty())
        return from_helper(j["credsStore"].get<std::string>(), server, path);
    // 3. auths: base64 of user:password as `docker login` writes it without a helper.
    if (!j.contains("auths") || !j["auths"].is_object()) return std::nullopt;
    std::vector<std::string> keys = {host, "https://" + host, "http://" + host, "https://" + host + "/v1/",
                                     "https://" + host + "/v2/"};
    if (host == "docker.io") keys.insert(keys.begin(), "https://index.docker.io/v1/");
    for (const auto& k : keys) {
        if (!j["auths"].contains(k) || !j["auths"][k].is_object()) continue;
        const auto& e = j["auths"][k];
        Credentials c;
        if (e.contains("auth") && e["auth"].is_string()) {
            std::string plain = base64_decode(e["auth"].get<std::string>());
            auto colon = plain.find(':');
            if (colon == std::string::npos) throw Error(path + ": the auth entry for " + k + " is not base64 of user:password");
            c.username = plain.substr(0, colon);
            c.password = plain.substr(colon + 1);
        }
        if (e.contains("username") && e["username"].is_string()) c.username = e["username"].get<std::string>();
        if (e.contains("password") && e["password"].is_string()) c.password = e["password"].get<std::string>();
        if (e.contains("identitytoken") && e["identitytoken"].is_string())
            c.identity_token = e["identitytoken"].get<std::string>();
        narrate::note("image", "credentials for " + host + " from " + path + " (user " + c.username + ")");
        return c;
    }
    return std::nullopt;
}

std::string Client::authorize(const Challenge& c) {
    if (c.scheme == "basic") {
        if (!creds_) return "";
        narrate::note("image", "the registry asks for Basic credentials: sending the stored ones");
        return "Basic " + base64_encode(creds_->username + ":" + creds_->password);
    }
    auto realm = c.params.find("realm");
    if (realm == c.params.end()) throw Error("registry " + ref_.domain + ": a Bearer challenge without a realm");
    std::string url = realm->second;
    // The scopes the registry asks for (a cross-repository mount asks for two, space-separated),
    // else ours; each one a scope= parameter.
    std::string scopes = "repository:" + ref_.path + ":" + actions_;
    if (auto s = c.params.find("scope"); s != c.params.end() && !s->second.empty()) {
        scopes = s->second;
        if (scopes.find("repository:" + ref_.path + ":") == std::string::npos)
            scopes += " repository:" + ref_.path + ":" + actions_;
    }
    url += (url.find('?') == std::string::npos ? "?" : "&");
    if (auto s = c.params.find("service"); s != c.params.end()) url += "service=" + url_escape(s->second);
    std::size_t start = 0;
    while (start < scopes.size()) {
        auto end = scopes.find(' ', start);
        std::string one = scopes.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!one.empty()) url += "&scope=" + url_escape(one);
        start = end == std::string::npos ? scopes.size() : end + 1;
    }
    narrate::note("image", "the registry asks for a token: GET " + url);
    Request r;
    r.url = url;
    std::string auth;
    if (creds_ && !creds_->username.empty()) auth = "Basic " + base64_encode(creds_->username + ":" + creds_->password);
    Response resp = perform(r, auth);
    if (resp.status == 401 || resp.status == 403)
        throw Error("registry " + ref_.domain + ": the token server refused " +
                        (creds_ ? std::string("the credentials") : std::string("an anonymous request")) + " (" +
                        std::to_string(resp.status) + ")",
                    exit_code::tool_failed)
            .with_hint(creds_ ? "check the user and password" : "log in: an `auths` entry in ~/.docker/config.json");
    if (resp.status != 200)
        throw Error("registry " + ref_.domain + ": token server answered " + std::to_string(resp.status));
    try {
        auto j = nlohmann::json::parse(resp.body);
        std::string token = j.value("token", "");
        if (token.empty()) token = j.value("access_token", "");
        if (token.empty()) throw Error("no token in the answer");
        return "Bearer " + token;
    } catch (const nlohmann::json::exception& e) {
        throw Error("registry " + ref_.domain + ": token server's answer is not JSON");
    }
}

}  // namespace images::registry
