#include "conn.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/write.hpp>

#include <cctype>

namespace engine {

namespace net = boost::asio;

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() &&
                   std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

Query parse_query(std::string_view target) {
    Query q;
    auto mark = target.find('?');
    if (mark == std::string_view::npos) return q;
    std::string_view rest = target.substr(mark + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        auto eq = pair.find('=');
        std::string key = percent_decode(pair.substr(0, eq));
        std::string value = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
        if (!key.empty()) q[key] = value;
        if (amp == std::string_view::npos) break;
        rest = rest.substr(amp + 1);
    }
    return q;
}

bool query_bool(const Query& q, const std::string& key, bool fallback) {
    auto it = q.find(key);
    if (it == q.end()) return fallback;
    const std::string& v = it->second;
    return !(v.empty() || v == "0" || v == "false" || v == "False" || v == "FALSE");
}

Conn::Conn(net::io_context& io, unique_fd fd) : stream_(io, fd.release()) {}

bool Conn::read(Request& req) {
    boost::beast::error_code ec;
    http::request_parser<http::string_body> parser;
    // `docker load` sends a whole image archive as one body.
    parser.body_limit(std::uint64_t(16) << 30);
    parser.header_limit(1 << 20);
    http::read(stream_, buffer_, parser, ec);
    if (ec) {
        if (ec != http::error::end_of_stream && ec != net::error::eof && ec != net::error::connection_reset) {
            // A malformed request: Docker's JSON error, then close.
            keep_alive_ = false;
            responded_ = false;
            version_ = 11;
            send_json(http::status::bad_request, {{"message", "malformed HTTP request: " + ec.message()}});
        }
        return false;
    }
    req = parser.release();
    return true;
}

void Conn::start_request(const Request& req) {
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    responded_ = false;
    streaming_ = false;
    status_sent_ = 0;
    extra_headers_.clear();
}

void Conn::common_headers(http::fields& f) const {
    // What the CLI reads on every response: the API version it may negotiate down to.
    f.set("Api-Version", "1.41");
    f.set("Docker-Experimental", "false");
    f.set("Ostype", "linux");
    f.set(http::field::server, "minibox-engine (linux)");
    for (auto& [name, value] : extra_headers_) f.set(name, value);
}

template <class Res>
void Conn::finish_and_write(Res& res) {
    common_headers(res.base());
    res.version(version_);
    res.keep_alive(keep_alive_);
    res.prepare_payload();
    boost::beast::error_code ec;
    http::write(stream_, res, ec);
    responded_ = true;
    status_sent_ = static_cast<int>(res.result_int());
    if (ec) keep_alive_ = false;
}

void Conn::send_json(http::status status, const nlohmann::json& body) {
    send_text(status, body.dump() + "\n", "application/json");
}

void Conn::send_text(http::status status, std::string body, std::string_view content_type) {
    http::response<http::string_body> res{status, version_};
    res.set(http::field::content_type, std::string(content_type));
    res.body() = std::move(body);
    finish_and_write(res);
}

void Conn::send_empty(http::status status) {
    http::response<http::empty_body> res{status, version_};
    finish_and_write(res);
}

void Conn::begin_stream(http::status status, std::string_view content_type) {
    http::response<http::empty_body> res{status, version_};
    common_headers(res.base());
    res.set(http::field::content_type, std::string(content_type));
    res.keep_alive(keep_alive_);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    boost::beast::error_code ec;
    http::write_header(stream_, sr, ec);
    responded_ = true;
    streaming_ = true;
    status_sent_ = static_cast<int>(status);
    if (ec) keep_alive_ = false;
}

bool Conn::chunk(std::string_view data) {
    if (!keep_alive_ && !streaming_) return false;
    if (data.empty()) return true;  // an empty chunk would end the stream
    boost::beast::error_code ec;
    net::write(stream_, http::make_chunk(net::const_buffer(data.data(), data.size())), ec);
    if (ec) {
        keep_alive_ = false;
        streaming_ = false;
        return false;
    }
    return true;
}

void Conn::end_stream() {
    if (!streaming_) return;
    boost::beast::error_code ec;
    net::write(stream_, http::make_chunk_last(), ec);
    if (ec) keep_alive_ = false;
    streaming_ = false;
}

unique_fd Conn::hijack(const Request& req, std::string_view content_type, std::string& early) {
    bool upgrade = std::string(req[http::field::upgrade]).find("tcp") != std::string::npos;
    if (upgrade) {
        // What dockerd writes: "HTTP/1.1 101 UPGRADED", then the raw stream.
        http::response<http::empty_body> res{http::status::switching_protocols, version_};
        res.reason("UPGRADED");
        common_headers(res.base());
        res.set(http::field::content_type, std::string(content_type));
        res.set(http::field::connection, "Upgrade");
        res.set(http::field::upgrade, "tcp");
        http::response_serializer<http::empty_body> sr{res};
        boost::beast::error_code ec;
        http::write_header(stream_, sr, ec);
        status_sent_ = 101;
    } else {
        // The older form: a 200 whose body is the stream until the connection closes.
        http::response<http::empty_body> res{http::status::ok, version_};
        common_headers(res.base());
        res.set(http::field::content_type, std::string(content_type));
        res.keep_alive(false);
        http::response_serializer<http::empty_body> sr{res};
        sr.split(true);
        boost::beast::error_code ec;
        http::write_header(stream_, sr, ec);
        status_sent_ = 200;
    }
    auto data = buffer_.data();
    early.assign(static_cast<const char*>(data.data()), data.size());
    buffer_.consume(buffer_.size());
    responded_ = true;
    hijacked_ = true;
    keep_alive_ = false;
    return unique_fd(stream_.release());
}

bool Conn::peer_gone() const {
    if (hijacked_) return true;
    pollfd p{const_cast<net::posix::stream_descriptor&>(stream_).native_handle(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

}  // namespace engine
