// The transport: one curl easy handle per request (so parallel layer downloads need no
// locking), TLS settings per registry host, the 401 -> credentials -> retry dance.
#include "registry.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <thread>

#include "error.hpp"
#include "narrate.hpp"
#include "unique_fd.hpp"

namespace images::registry {
namespace {

std::once_flag curl_once;

bool is_loopback(const std::string& domain) {
    std::string host = domain;
    if (host.rfind("[", 0) == 0) host = host.substr(1, host.find(']') - 1);
    else if (auto c = host.rfind(':'); c != std::string::npos) host.resize(c);
    return host == "localhost" || host == "127.0.0.1" || host == "::1" || host.rfind("127.", 0) == 0;
}

bool readable(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

struct Transfer {
    const Request* req = nullptr;
    Response* resp = nullptr;
    bool too_big = false;
    bool sink_refused = false;
    int fd = -1;
    std::uint64_t sent = 0;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {
        // A new response (after a redirect or a 100): its status is needed before the body
        // arrives (on_body reads it), and libcurl sets RESPONSE_CODE only at the end.
        t->resp->headers.clear();
        auto sp = line.find(' ');
        if (sp != std::string::npos) t->resp->status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
    }
    auto colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon), value = line.substr(colon + 1);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        t->resp->headers[name] = value;
    }
    return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t len = size * n;
    // Error bodies (4xx, 5xx) are kept for the message, never given to the sink.
    if (t->req->sink && t->resp->status / 100 == 2) {
        if (!t->req->sink(data, len)) {
            t->sink_refused = true;
            return 0;
        }
        return len;
    }
    if (t->resp->body.size() + len > t->req->body_limit) {
        t->too_big = true;
        return 0;
    }
    t->resp->body.append(data, len);
    return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const Request& r = *t->req;
    std::uint64_t left = r.upload_size - t->sent;
    size_t want = std::min<std::uint64_t>(left, size * n);
    if (want == 0) return 0;
    ssize_t got;
    if (t->fd >= 0) {
        got = ::pread(t->fd, buf, want, static_cast<off_t>(r.upload_offset + t->sent));
        if (got < 0) return CURL_READFUNC_ABORT;
    } else {
        std::memcpy(buf, r.upload_data.data() + t->sent, want);
        got = static_cast<ssize_t>(want);
    }
    t->sent += static_cast<std::uint64_t>(got);
    if (r.progress) r.progress(t->sent, r.upload_size);
    return static_cast<size_t>(got);
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->req->progress && t->req->upload_size == 0 && dlnow > 0)
        t->req->progress(static_cast<std::uint64_t>(dlnow), static_cast<std::uint64_t>(dltotal));
    return 0;
}

}  // namespace

Client::Client(const Reference& ref, const RegistryOptions& opts, std::string actions)
    : ref_(ref), opts_(opts), actions_(std::move(actions)) {
    std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::string host = ref.domain == "docker.io" ? "registry-1.docker.io" : ref.domain;
    // Plain http is allowed for loopback and for --insecure-registry hosts; an unverified
    // certificate only for the latter (loopback over https is verified like any registry).
    bool explicit_insecure = std::find(opts.insecure_registries.begin(), opts.insecure_registries.end(), ref.domain) !=
                             opts.insecure_registries.end();
    bool insecure = explicit_insecure || is_loopback(ref.domain);
    // Docker's per-registry trust: /etc/docker/certs.d/HOST[:PORT]/{ca.crt,client.cert,client.key}.
    std::string certs = opts.certs_dir + "/" + ref.domain;
    if (readable(certs + "/ca.crt")) ca_file_ = certs + "/ca.crt";
    if (readable(certs + "/client.cert") && readable(certs + "/client.key")) {
        client_cert_ = certs + "/client.cert";
        client_key_ = certs + "/client.key";
    }
    creds_ = opts.credentials ? opts.credentials : credentials_for(ref.domain, opts.docker_config);
    // The ping decides the scheme: https first; an insecure registry may answer only http (as
    // docker, which also accepts an unverified certificate there).
    base_ = "https://" + host;
    verify_tls_ = !explicit_insecure;
    Request ping;
    ping.url = "/v2/";
    try {
        auto r = perform(ping, "");
        narrate::note("image", "GET " + base_ + "/v2/ -> " + std::to_string(r.status) + " (the registry speaks API v2)");
        if (r.status == 401)
            if (auto c = parse_challenge(r.header("www-authenticate"))) authorization_ = authorize(*c);
        return;
    } catch (const Error& e) {
        if (!insecure || e.hint().find("not trusted") != std::string::npos) throw;
        narrate::note("image", "https://" + host + ": " + e.message() + "; trying plain http (an insecure registry)");
    }
    base_ = "http://" + host;
    auto r = perform(ping, "");
    narrate::note("image", "GET " + base_ + "/v2/ -> " + std::to_string(r.status));
    if (r.status == 401)
        if (auto c = parse_challenge(r.header("www-authenticate"))) authorization_ = authorize(*c);
}

Client::~Client() = default;

Response Client::perform(const Request& req, const std::string& authorization) {
    std::unique_ptr<CURL, void (*)(CURL*)> h(curl_easy_init(), curl_easy_cleanup);
    if (!h) throw Error("curl_easy_init failed");
    Response resp;
    Transfer t;
    t.req = &req;
    t.resp = &resp;
    std::string url = req.url.rfind("http", 0) == 0 ? req.url : base_ + req.url;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL* c = h.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, req.method == "GET" || req.method == "HEAD" ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "minibox/0.7 (step07_full)");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    // A stalled transfer (under 1 byte/s for 60 s) fails rather than hangs.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, verify_tls_ ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, verify_tls_ ? 2L : 0L);
    if (!ca_file_.empty()) {
        // CAINFO is our registry's CA, CAPATH the system's hashed store: OpenSSL trusts both.
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
        curl_easy_setopt(c, CURLOPT_CAPATH, "/etc/ssl/certs");
    }
    if (!client_cert_.empty()) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, client_cert_.c_str());
        curl_easy_setopt(c, CURLOPT_SSLKEY, client_key_.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, req.progress ? 0L : 1L);
    struct curl_slist* hdrs = nullptr;
    for (const auto& x : req.headers) hdrs = curl_slist_append(hdrs, x.c_str());
    std::string auth_header;
    if (!authorization.empty()) {
        auth_header = "Authorization: " + authorization;
        hdrs = curl_slist_append(hdrs, auth_header.c_str());
    }
    unique_fd fd;
    if (req.method == "HEAD") {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (req.has_body) {
        if (!req.upload_file.empty()) {
            fd.reset(::open(req.upload_file.c_str(), O_RDONLY | O_CLOEXEC));
            if (fd.get() < 0) throw SysError("open(\"" + req.upload_file + "\")", errno);
            t.fd = fd.get();
        }
        std::uint64_t size = req.upload_file.empty() ? req.upload_data.size() : req.upload_size;
        const_cast<Request&>(req).upload_size = size;
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &t);
        if (req.method != "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
        hdrs = curl_slist_append(hdrs, "Expect:");  // no 100-continue round trip
    } else if (req.method == "POST") {
        // An empty body given as such: without POSTFIELDS libcurl would read the body from stdin.
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    } else if (req.method != "GET") {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    if (t.too_big) throw Error(req.method + " " + url + ": the answer is larger than " + std::to_string(req.body_limit) + " bytes");
    if (t.sink_refused) throw Error(req.method + " " + url + ": transfer stopped (the data did not verify or the pull was cancelled)");
    if (rc != CURLE_OK) {
        Error e(req.method + " " + url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
        if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
            e.with_hint("the registry's certificate is not trusted: put its CA in " + opts_.certs_dir + "/" + ref_.domain +
                        "/ca.crt, or use --insecure-registry " + ref_.domain);
        else if (rc == CURLE_COULDNT_CONNECT)
            e.with_hint("is a registry listening there?");
        throw e;
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    resp.status = code;
    return resp;
}

Response Client::send(Request req) {
    std::string auth;
    {
        std::lock_guard<std::mutex> l(mu_);
        auth = authorization_;
    }
    Response r = perform(req, auth);
    if (r.status != 401) return r;
    auto c = parse_challenge(r.header("www-authenticate"));
    if (!c) return r;
    std::string fresh = authorize(*c);
    {
        std::lock_guard<std::mutex> l(mu_);
        authorization_ = fresh;
    }
    if (fresh.empty()) return r;
    return perform(req, fresh);
}

void run_parallel(int threads, std::vector<Job> jobs) {
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> next{0};
    std::mutex mu;
    std::exception_ptr first;
    auto worker = [&] {
        for (;;) {
            std::size_t i = next++;
            if (i >= jobs.size() || stop) return;
            try {
                jobs[i](stop);
            } catch (...) {
                std::lock_guard<std::mutex> l(mu);
                if (!first) first = std::current_exception();
                stop = true;
            }
        }
    };
    std::vector<std::thread> pool;
    int n = std::max(1, std::min<int>(threads, static_cast<int>(jobs.size())));
    for (int i = 0; i < n; i++) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
    if (first) std::rethrow_exception(first);
}

}  // namespace images::registry
