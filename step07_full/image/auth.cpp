// Registry auth: the challenge in a 401's WWW-Authenticate header, docker's stored
// credentials, and the token flow (Docker's token spec: GET REALM?service=S&scope=repository:
// NAME:pull,push with Basic credentials, answer {"token": ...} or {"access_token": ...}).
// Credentials and tokens are never printed, not even with --explain.
#include <openssl/evp.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "files.hpp"
#include "narrate.hpp"
#include "registry.hpp"

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
