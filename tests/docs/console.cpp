#include "console.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace docs {
namespace {

std::string rtrim(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
    return s;
}

void drop_trailing_empty(std::vector<std::string>& lines) {
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
}

// "[exit 3]" -> 3; -1 when `line` is not an exit marker.
int exit_marker(const std::string& line) {
    if (line.size() < 8 || line.rfind("[exit ", 0) != 0 || line.back() != ']') return -1;
    std::string n = line.substr(6, line.size() - 7);
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(n);
}

void finish(Command& cmd, std::vector<Command>& out) {
    for (auto& l : cmd.expected) l = rtrim(l);
    drop_trailing_empty(cmd.expected);
    if (!cmd.expected.empty()) {
        int code = exit_marker(cmd.expected.back());
        if (code >= 0) {
            cmd.exit = code;
            cmd.expected.pop_back();
            drop_trailing_empty(cmd.expected);
        }
    }
    cmd.check_output = !cmd.expected.empty();
    out.push_back(std::move(cmd));
}

size_t indent_of(const std::string& line) { return line.find_first_not_of(" \t") == std::string::npos ? line.size() : line.find_first_not_of(" \t"); }

}  // namespace

std::vector<Command> parse(const std::string& markdown, const std::string& file) {
    std::vector<std::string> lines;
    {
        std::istringstream in(markdown);
        for (std::string l; std::getline(in, l);) lines.push_back(rtrim(l));
    }
    auto where = [&](size_t i) { return file + ":" + std::to_string(i + 1) + ": "; };

    std::vector<Command> out;
    bool in_block = false, have_cmd = false;
    size_t indent = 0, block_start = 0;
    Command cmd;
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string& raw = lines[i];
        size_t ind = indent_of(raw);
        std::string body = raw.substr(ind);
        if (!in_block) {
            if (body.rfind("```", 0) == 0) {
                std::istringstream info(body.substr(3));
                std::string lang;
                info >> lang;
                if (lang == "console") {
                    in_block = true;
                    indent = ind;
                    block_start = i;
                }
                // Any other fence is skipped whole, so a "```console" quoted inside it is not run.
                else {
                    for (++i; i < lines.size(); ++i) {
                        std::string b = lines[i].substr(indent_of(lines[i]));
                        if (b.rfind("```", 0) == 0 && b.find_first_not_of('`') == std::string::npos) break;
                    }
                }
            }
            continue;
        }
        if (body.rfind("```", 0) == 0) {
            if (have_cmd) finish(cmd, out);
            have_cmd = false;
            in_block = false;
            continue;
        }
        // Inside the block: drop the fence's own indentation (blocks inside list items).
        std::string line = raw.substr(std::min(indent, ind));
        if (line.rfind("$ ", 0) == 0 || line == "$") {
            if (have_cmd) finish(cmd, out);
            cmd = Command{};
            cmd.file = file;
            cmd.line = static_cast<int>(i + 1);
            cmd.text = line.size() > 2 ? line.substr(2) : "";
            while (!cmd.text.empty() && cmd.text.back() == '\\') {
                if (i + 1 >= lines.size()) throw std::runtime_error(where(i) + "a continuation \"\\\" at the end of the file");
                ++i;
                std::string next = lines[i].substr(std::min(indent, indent_of(lines[i])));
                if (next.rfind("```", 0) == 0) throw std::runtime_error(where(i) + "a continuation \"\\\" at the end of a block");
                if (next.rfind("> ", 0) == 0) next = next.substr(2);
                cmd.text += "\n" + next;
            }
            if (rtrim(cmd.text).empty()) throw std::runtime_error(where(cmd.line - 1) + "an empty command");
            have_cmd = true;
        } else if (have_cmd) {
            cmd.expected.push_back(line);
        } else if (!line.empty()) {
            throw std::runtime_error(where(i) + "text before the first \"$ \" command of a console block");
        }
    }
    if (in_block) throw std::runtime_error(where(block_start) + "a console block that is never closed");
    return out;
}

bool line_matches(const std::string& pattern, const std::string& line) {
    const std::string dots = "...";
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
        size_t pos = pattern.find(dots, start);
        parts.push_back(pattern.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
        if (pos == std::string::npos) break;
        start = pos + dots.size();
    }
    if (parts.size() == 1) return pattern == line;
    const std::string& first = parts.front();
    const std::string& last = parts.back();
    if (line.size() < first.size() + last.size()) return false;
    if (line.compare(0, first.size(), first) != 0) return false;
    if (line.compare(line.size() - last.size(), last.size(), last) != 0) return false;
    // The middle parts, leftmost first, between the prefix and the suffix.
    size_t pos = first.size();
    size_t end = line.size() - last.size();
    for (size_t k = 1; k + 1 < parts.size(); ++k) {
        size_t found = line.find(parts[k], pos);
        if (found == std::string::npos || found + parts[k].size() > end) return false;
        pos = found + parts[k].size();
    }
    return true;
}

Match match(const std::vector<std::string>& expected, const std::vector<std::string>& actual) {
    const size_t E = expected.size(), A = actual.size();
    // memo[i][j]: 0 unknown, 1 matches, 2 does not. Small inputs: a table is plenty.
    std::vector<char> memo((E + 1) * (A + 1), 0);
    Match result;
    long best = -1;
    auto note_failure = [&](size_t i, size_t j) {
        long depth = static_cast<long>(j) * static_cast<long>(E + 1) + static_cast<long>(i);
        if (depth > best) {
            best = depth;
            result.expected_line = i < E ? static_cast<int>(i) : -1;
            result.actual_line = j < A ? static_cast<int>(j) : -1;
        }
    };
    // Iterative over a stack would be more robust for huge outputs; chapters print a few lines.
    auto go = [&](auto&& self, size_t i, size_t j) -> bool {
        char& m = memo[i * (A + 1) + j];
        if (m) return m == 1;
        bool ok;
        if (i == E) {
            ok = j == A;
            if (!ok) note_failure(i, j);
        } else if (expected[i] == "...") {
            ok = self(self, i + 1, j) || (j < A && self(self, i, j + 1));
        } else if (j < A && line_matches(expected[i], actual[j])) {
            ok = self(self, i + 1, j + 1);
        } else {
            ok = false;
            note_failure(i, j);
        }
        m = ok ? 1 : 2;
        return ok;
    };
    result.ok = go(go, 0, 0);
    if (result.ok) result.expected_line = result.actual_line = -1;
    return result;
}

std::vector<std::string> lines_of(const std::string& output) {
    std::vector<std::string> lines;
    std::istringstream in(output);
    for (std::string l; std::getline(in, l);) lines.push_back(rtrim(l));
    drop_trailing_empty(lines);
    return lines;
}

namespace {

int decode(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// Orphans of the command are re-parented to us (we are a child subreaper): reap them.
void reap_orphans() {
    int status;
    while (::waitpid(-1, &status, WNOHANG) > 0) {
    }
}

std::string comm_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
    std::string c;
    std::getline(f, c);
    return c;
}

// The live members of process group `pgid`, as "pid (comm)".
std::string members_of(pid_t pgid) {
    std::string list;
    DIR* d = ::opendir("/proc");
    if (!d) return list;
    while (dirent* e = ::readdir(d)) {
        pid_t p = std::atoi(e->d_name);
        if (p > 0 && ::getpgid(p) == pgid) list += (list.empty() ? "" : ", ") + std::string(e->d_name) + " (" + comm_of(p) + ")";
    }
    ::closedir(d);
    return list;
}

std::vector<std::string>* g_left = nullptr;

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
    if (::remove(path) != 0 && g_left) g_left->push_back(std::string(path) + ": " + std::strerror(errno));
    return 0;
}

// Removes `dir` without ever crossing into another file system: a mount left inside it stays
// (and is reported), and so does the directory holding it.
std::string remove_tree(const std::string& dir) {
    std::vector<std::string> left;
    g_left = &left;
    ::nftw(dir.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    g_left = nullptr;
    if (::access(dir.c_str(), F_OK) != 0) return {};
    std::string why = "could not remove its directory " + dir + " (a mount left inside?)";
    if (!left.empty()) why += ": " + left.front();
    return why;
}

}  // namespace

Outcome execute(const std::string& command, const std::string& bin_dir, std::chrono::seconds timeout) {
    Outcome out;
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    char tmpl[] = "/tmp/minibox-docs.XXXXXX";
    if (!::mkdtemp(tmpl)) {
        out.problem = std::string("mkdtemp: ") + std::strerror(errno);
        return out;
    }
    std::string dir = tmpl;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        out.problem = std::string("pipe2: ") + std::strerror(errno);
        return out;
    }
    std::string path = bin_dir + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin");

    pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        if (::chdir(dir.c_str()) != 0) ::_exit(125);
        ::setenv("PATH", path.c_str(), 1);
        ::setenv("LC_ALL", "C", 1);
        for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execl("/bin/bash", "bash", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(fds[1]);
    if (pid < 0) {
        ::close(fds[0]);
        out.problem = std::string("fork: ") + std::strerror(errno);
        return out;
    }
    ::setpgid(pid, pid);  // also here: no race with the child's own call
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));

    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + timeout;
    bool exited = false, eof = false;
    char buf[4096];
    // Phase 1: until bash exits (or the time is up), collect its output.
    while (!exited) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
        if (left <= 0) break;
        pollfd p[2] = {{eof ? -1 : fds[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
        int n = ::poll(p, 2, static_cast<int>(std::min<long long>(left, 200)));
        if (n < 0 && errno != EINTR) break;
        if (p[0].revents) {
            ssize_t r = ::read(fds[0], buf, sizeof buf);
            if (r > 0) out.output.append(buf, static_cast<size_t>(r));
            else if (r == 0) eof = true;
        }
        int status;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            out.status = decode(status);
            exited = true;
        }
    }
    if (!exited) {
        out.timed_out = true;
        ::kill(-pid, SIGKILL);
        int status;
        ::waitpid(pid, &status, 0);
        out.status = decode(status);
    }
    // Phase 2: what is left of the output; the command's own background processes get a few
    // seconds to end, then they are killed and reported: a chapter command must clean up.
    const auto grace = std::min(deadline, clock::now() + std::chrono::seconds(5)) ;
    for (;;) {
        reap_orphans();
        bool group_alive = ::kill(-pid, 0) == 0;
        pollfd p{eof ? -1 : fds[0], POLLIN, 0};
        int wait_ms = group_alive ? 100 : 0;
        if (::poll(&p, 1, wait_ms) > 0 && p.revents) {
            ssize_t r = ::read(fds[0], buf, sizeof buf);
            if (r > 0) {
                out.output.append(buf, static_cast<size_t>(r));
                continue;
            }
            eof = true;
        }
        if (!group_alive) break;
        if (clock::now() >= grace) {
            std::string who = members_of(pid);
            ::kill(-pid, SIGKILL);
            if (!out.timed_out) out.problem = "left processes running: " + (who.empty() ? "?" : who);
            // Wait for them to die so that their mounts and files are gone before the cleanup.
            for (int k = 0; k < 100 && ::kill(-pid, 0) == 0; ++k) {
                reap_orphans();
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            break;
        }
    }
    ::close(fds[0]);
    if (pidfd >= 0) ::close(pidfd);
    std::string left = remove_tree(dir);
    if (!left.empty() && out.problem.empty()) out.problem = left;
    return out;
}

std::string report(const Command& cmd, const Outcome& out) {
    std::ostringstream s;
    s << cmd.file << ":" << cmd.line << ": FAILED\n";
    std::istringstream text(cmd.text);
    bool first = true;
    for (std::string l; std::getline(text, l); first = false) s << (first ? "  $ " : "  > ") << l << "\n";
    if (out.timed_out) s << "  timed out (killed)\n";
    if (!out.problem.empty()) s << "  the command " << out.problem << "\n";
    auto actual = lines_of(out.output);
    Match m = cmd.check_output ? match(cmd.expected, actual) : Match{};
    if (out.status != cmd.exit) s << "  exit status: expected " << cmd.exit << ", got " << out.status << "\n";
    if (cmd.check_output) {
        s << "  expected output:\n";
        for (size_t i = 0; i < cmd.expected.size(); ++i)
            s << (static_cast<int>(i) == m.expected_line ? "  >>| " : "    | ") << cmd.expected[i] << "\n";
        if (!m.ok && m.expected_line < 0) s << "  >>| (end)\n";
    }
    s << "  actual output (stdout and stderr):\n";
    for (size_t i = 0; i < actual.size(); ++i)
        s << (static_cast<int>(i) == m.actual_line ? "  >>| " : "    | ") << actual[i] << "\n";
    if (!m.ok && m.actual_line < 0) s << "  >>| (end)\n";
    if (!m.ok) {
        s << "  first difference: expected ";
        s << (m.expected_line >= 0 ? "\"" + cmd.expected[static_cast<size_t>(m.expected_line)] + "\"" : "no more lines");
        s << ", got ";
        s << (m.actual_line >= 0 ? "\"" + actual[static_cast<size_t>(m.actual_line)] + "\"" : "no more lines");
        s << "\n";
    }
    return s.str();
}

bool check(const Command& cmd, const std::string& bin_dir, std::chrono::seconds timeout, std::ostream& log) {
    Outcome out = execute(cmd.text, bin_dir, timeout);
    bool ok = !out.timed_out && out.problem.empty() && out.status == cmd.exit &&
              (!cmd.check_output || match(cmd.expected, lines_of(out.output)).ok);
    if (!ok) log << report(cmd, out);
    return ok;
}

}  // namespace docs
