// The shim's pieces that need no root: shim.json's validation (bad input is refused before
// anything is made), Docker's stdcopy framing, and the json-file log's line splitting.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "client.hpp"
#include "error.hpp"
#include "jsonlog.hpp"
#include "support.hpp"

using nlohmann::json;

namespace {

json valid() {
    return {{"id", "abc"}, {"runtime", "/bin/step07_full"}, {"runtime_root", "/run/x"}, {"network", {{"mode", "none"}}}};
}

TEST(ShimOptions, RoundTrip) {
    shim::Options o = shim::Options::from_json(valid());
    o.restart = "on-failure:3";
    o.network.mode = "bridge";
    o.network.ports = {"8080:80/tcp"};
    o.exit_command = {"/bin/true", "x"};
    shim::Options back = shim::Options::from_json(o.to_json());
    EXPECT_EQ(back.id, "abc");
    EXPECT_EQ(back.restart, "on-failure:3");
    EXPECT_EQ(back.network.ports, o.network.ports);
    EXPECT_EQ(back.exit_command, o.exit_command);
}

TEST(ShimOptions, RefusesBadInput) {
    auto refused = [](json j, const std::string& word) {
        try {
            shim::Options::from_json(j);
            ADD_FAILURE() << "accepted " << j.dump();
        } catch (const Error& e) {
            EXPECT_EQ(e.exit_status(), 125);
            EXPECT_NE(e.message().find(word), std::string::npos) << e.message();
        }
    };
    json j = valid();
    j["tyy"] = true;
    refused(j, "unknown field \"tyy\"");
    j = valid();
    j["id"] = "../etc";
    refused(j, "id");
    j = valid();
    j["runtime"] = "step07_full";
    refused(j, "absolute");
    for (auto bad : {"sometimes", "on-failure:", "on-failure:x", "on-failure:-1", "always:3"}) {
        j = valid();
        j["restart"] = bad;
        refused(j, "restart policy");
    }
    j = valid();
    j["network"]["mode"] = "overlay";
    refused(j, "network mode");
    j = valid();
    j["network"]["ports"] = {"80:80"};
    refused(j, "bridge");
    j = valid();
    j["stdin_once"] = true;
    refused(j, "open_stdin");
    j = valid();
    j["tty"] = "yes";
    refused(j, "wrong type");
    for (auto ok : {"no", "always", "unless-stopped", "on-failure", "on-failure:5"}) {
        j = valid();
        j["restart"] = ok;
        EXPECT_NO_THROW(shim::Options::from_json(j)) << ok;
    }
}

TEST(ShimStdcopy, FramesCarryStreamAndLength) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    std::string big(70000, 'x');
    ASSERT_TRUE(shim::write_frame(sv[0], shim::stdout_stream, "out\n", 4));
    std::thread writer([&] { shim::write_frame(sv[0], shim::stderr_stream, big.data(), big.size()); ::close(sv[0]); });
    unsigned char h[8];
    ASSERT_EQ(::read(sv[1], h, 8), 8);
    EXPECT_EQ(h[0], 1);
    EXPECT_EQ(h[1] | h[2] | h[3], 0);
    EXPECT_EQ((h[4] << 24) | (h[5] << 16) | (h[6] << 8) | h[7], 4) << "big-endian length";
    char body[4];
    ASSERT_EQ(::read(sv[1], body, 4), 4);
    shim::Stream s;
    std::string data;
    ASSERT_TRUE(shim::read_frame(sv[1], s, data));
    EXPECT_EQ(s, shim::stderr_stream);
    EXPECT_EQ(data, big);
    EXPECT_FALSE(shim::read_frame(sv[1], s, data)) << "a clean EOF";
    writer.join();
    ::close(sv[1]);
}

TEST(ShimStdcopy, TornFrameIsAnError) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    unsigned char h[8] = {1, 0, 0, 0, 0, 0, 0, 10};
    ASSERT_EQ(::write(sv[0], h, 8), 8);
    ASSERT_EQ(::write(sv[0], "abc", 3), 3);
    ::close(sv[0]);
    shim::Stream s;
    std::string data;
    EXPECT_THROW(shim::read_frame(sv[1], s, data), Error);
    ::close(sv[1]);
}

TEST(ShimJsonLog, OneRecordPerLineAsDockerWritesIt) {
    char tmpl[] = "/tmp/mbxshimlog.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string path = std::string(tmpl) + "/json.log";
    {
        shim::JsonLog log(path);
        log.write("stdout", "one\ntw");
        log.write("stderr", "err\n");
        log.write("stdout", "o\nthree");
        log.write("stdout", std::string("bin\xff\n", 5));
        log.write("stdout", "tail");
        log.flush_all();
    }
    std::ifstream f(path);
    std::vector<json> lines;
    for (std::string l; std::getline(f, l);) lines.push_back(json::parse(l));
    ASSERT_EQ(lines.size(), 5u);
    EXPECT_EQ(lines[0]["log"], "one\n");
    EXPECT_EQ(lines[1]["log"], "err\n");
    EXPECT_EQ(lines[1]["stream"], "stderr");
    EXPECT_EQ(lines[2]["log"], "two\n") << "a line split over two reads is one record";
    EXPECT_EQ(lines[3]["log"].get<std::string>().substr(0, 8), "threebin") << "invalid UTF-8 is replaced, not dropped";
    EXPECT_EQ(lines[4]["log"], "tail") << "what waits without a newline is written at the end";
    std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)");
    for (auto& l : lines) EXPECT_TRUE(std::regex_match(l["time"].get<std::string>(), rfc3339));
    support::sh(std::string("rm -rf ") + tmpl);
}

TEST(ShimState, ReadStateReportsADeadShimAsExited) {
    char tmpl[] = "/tmp/mbxshimst.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    EXPECT_FALSE(shim::read_state(dir));
    std::ofstream(dir + "/state.json") << json{{"status", "running"}, {"pid", 4242}}.dump();
    // An owner that cannot be alive: pid 1 with a start time it never had.
    std::ofstream(dir + "/owner") << "1:999999999999\n";
    auto st = shim::read_state(dir);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->status, "exited");
    EXPECT_EQ(st->exit_code, 255);
    EXPECT_FALSE(st->shim_alive);
    EXPECT_NE(st->finished_at, shim::zero_time);
    support::sh("rm -rf " + dir);
}

}  // namespace
