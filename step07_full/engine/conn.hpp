// One client connection of the engine: HTTP/1.1 requests in, responses out, parsed and written
// by Boost.Beast over the accepted socket's file descriptor (a posix::stream_descriptor, so a
// unix and a TCP socket are the same to it). Besides plain responses it writes streams (chunked
// transfer encoding: events, logs --follow, pull progress) and hands the socket over to a
// hijacked stream (attach, exec: HTTP `Upgrade: tcp`, then raw bytes both ways).
//   man 7 unix, man 2 accept4; RFC 9112 (HTTP/1.1), 7.1 chunked transfer coding
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "unique_fd.hpp"

namespace engine {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

// The query string as a map ("?all=1&filters=%7B%7D" -> {all: "1", filters: "{}"}).
using Query = std::map<std::string, std::string>;
Query parse_query(std::string_view target);
// "%7B" -> "{", "+" -> " ".
std::string percent_decode(std::string_view s);
// Docker's boolean query values: "1", "true", "True" are true; absent or "0"/"false" false.
bool query_bool(const Query& q, const std::string& key, bool fallback = false);

class Conn {
public:
    Conn(boost::asio::io_context& io, unique_fd fd);
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    // Reads the next request (keep-alive: many per connection). False at EOF or on a request
    // Beast cannot parse (then a 400 has been written when the socket still takes it).
    bool read(Request& req);

    // A whole response. JSON bodies get Content-Type application/json.
    void send_json(http::status status, const nlohmann::json& body);
    void send_empty(http::status status);  // 204, 304, 201 without body
    void send_text(http::status status, std::string body, std::string_view content_type);
    // One more header on the next response of this request (docker cp's
    // X-Docker-Container-Path-Stat); start_request() forgets them.
    void add_header(std::string name, std::string value) { extra_headers_.emplace_back(std::move(name), std::move(value)); }

    // A stream of unknown length, chunked: begin, chunk..., end. chunk() returns false once the
    // client has gone (the stream's producer then stops).
    void begin_stream(http::status status, std::string_view content_type);
    bool chunk(std::string_view data);
    void end_stream();

    // Hijack: writes the 101 (when the client asked for `Upgrade: tcp`) or the 200 of the older
    // form, with `content_type`, and gives up the socket: the returned fd is the raw
    // connection, `early` the bytes the client already sent past the request (stdin).
    unique_fd hijack(const Request& req, std::string_view content_type, std::string& early);

    // True when the peer has closed or reset the connection (poll(2) POLLRDHUP, no wait).
    bool peer_gone() const;
    bool keep_alive() const { return keep_alive_; }
    bool responded() const { return responded_; }
    bool hijacked() const { return hijacked_; }
    // Set for each request by the server: keep-alive wanted, HTTP version, nothing sent yet.
    void start_request(const Request& req);
    int status_sent() const { return status_sent_; }

private:
    template <class Res>
    void finish_and_write(Res& res);
    void common_headers(http::fields& f) const;

    boost::asio::posix::stream_descriptor stream_;
    boost::beast::flat_buffer buffer_;
    bool keep_alive_ = true;
    bool responded_ = false;
    bool hijacked_ = false;
    bool streaming_ = false;
    unsigned version_ = 11;
    int status_sent_ = 0;
    std::vector<std::pair<std::string, std::string>> extra_headers_;
};

}  // namespace engine
