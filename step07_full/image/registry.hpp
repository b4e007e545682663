// The registry's HTTP API (the OCI distribution spec, Docker's Registry HTTP API v2), with
// libcurl doing HTTP/1.1 and TLS:
//   GET  /v2/                                  the ping: 200, or 401 with the auth challenge
//   GET  /v2/NAME/manifests/REF   (Accept: …)  a manifest or an index, by tag or digest
//   GET  /v2/NAME/blobs/DIGEST                 a config or a layer (may redirect to storage)
//   HEAD /v2/NAME/blobs/DIGEST                 does the registry have it? (push)
//   POST /v2/NAME/blobs/uploads/               start an upload: 202 + Location
//   PATCH LOCATION (Content-Range)             a chunk;  PUT LOCATION?digest=D  the end
//   PUT  /v2/NAME/manifests/TAG                the manifest, last (it names only blobs there)
// Auth (auth.cpp): a 401's WWW-Authenticate says Basic (send the credentials) or Bearer
// realm,service,scope (ask the realm for a token with them, then send the token).
// TLS: verified with the system CAs plus /etc/docker/certs.d/HOST/ca.crt; plain http only for
// localhost, 127.0.0.1, ::1 or an --insecure-registry HOST. See workshop/09-images.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "reference.hpp"
#include "store.hpp"

namespace images::registry {

struct Response {
    long status = 0;
    std::map<std::string, std::string> headers;  // names lowercased, last value wins
    std::string body;                            // unless streamed to a sink
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

// Receives body bytes as they arrive; returns false to abort the transfer.
using Sink = std::function<bool(const char* data, std::size_t n)>;

struct Request {
    std::string method = "GET";
    std::string url;  // absolute, or a path on the registry ("/v2/...")
    std::vector<std::string> headers;
    Sink sink;                    // stream the body here instead of Response::body
    std::size_t body_limit = 8 << 20;  // without a sink: the most accepted
    // An upload: the bytes of `upload_file` from `upload_offset`, `upload_size` of them, or
    // `upload_data` when no file is given.
    std::string upload_file;
    std::uint64_t upload_offset = 0;
    std::uint64_t upload_size = 0;
    std::string upload_data;
    bool has_body = false;
    std::function<void(std::uint64_t now, std::uint64_t total)> progress;
};

// Credentials as parsed from WWW-Authenticate.
struct Challenge {
    std::string scheme;  // "basic" or "bearer" (lowercase)
    std::map<std::string, std::string> params;  // realm, service, scope
};
std::optional<Challenge> parse_challenge(const std::string& header);

// The stored credentials for `host`, looked up in ~/.docker/config.json as docker does:
// credHelpers[host] (a helper for this registry), else credsStore (one for all), each run as
// `docker-credential-NAME get` with the server on stdin; else the auths entry (keys "host",
// "https://host", "http://host"; for docker.io "https://index.docker.io/v1/"). nullopt when
// there is none. Error for a helper that is missing or fails. `path` "" = default.
std::optional<Credentials> credentials_for(const std::string& host, const std::string& path);

class Client {
public:
    // `actions`: "pull" or "pull,push" (the token's scope for ref's repository).
    Client(const Reference& ref, const RegistryOptions& opts, std::string actions);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends `req` (thread-safe: each call has its own curl handle), answering one 401 with the
    // challenge's credentials. Throws Error for transport failures (with curl's words).
    Response send(Request req);

    const Reference& ref() const { return ref_; }
    std::string base() const { return base_; }  // "https://host:port"
    std::string repo_url(const std::string& tail) const { return "/v2/" + ref_.path + tail; }

private:
    Response perform(const Request& req, const std::string& authorization);
    std::string authorize(const Challenge& c);
    Reference ref_;
    RegistryOptions opts_;
    std::string actions_;
    std::string base_;
    bool verify_tls_ = true;
    std::string ca_file_, client_cert_, client_key_;
    std::optional<Credentials> creds_;
    std::mutex mu_;
    std::string authorization_;  // the header value currently in use ("Bearer ...", "Basic ...")
};

// Runs `jobs` on `threads` workers; the first exception is rethrown after all have stopped
// (the others see their `stop` flag turn true and should give up at their next step).
using Job = std::function<void(const std::atomic<bool>& stop)>;
void run_parallel(int threads, std::vector<Job> jobs);

}  // namespace images::registry
