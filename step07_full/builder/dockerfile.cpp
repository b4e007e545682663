// The Dockerfile parser and the variable expander (see dockerfile.hpp). The rules are Docker's:
// where its classic builder accepts a form, we accept it; where it refuses one, we refuse it with
// the line and column of the fault.
#include "dockerfile.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

namespace builder {

ParseError::ParseError(int line, int column, const std::string& what)
    : std::runtime_error("Dockerfile:" + std::to_string(line) + ":" + std::to_string(column) + ": " + what),
      line_(line), column_(column), reason_(what) {}

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string rtrim(std::string s) {
    while (!s.empty() && blank(s.back())) s.pop_back();
    return s;
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// A logical line (continuations joined) and where each of its characters came from.
struct Logical {
    std::string text;
    struct Segment {
        size_t start;  // offset in text
        Pos pos;       // of text[start]
    };
    std::vector<Segment> segments;

    void append(const std::string& piece, Pos pos) {
        segments.push_back({text.size(), pos});
        text += piece;
    }
    Pos at(size_t offset) const {
        Pos p{1, 1};
        for (const auto& s : segments) {
            if (s.start > offset) break;
            p = {s.pos.line, s.pos.column + static_cast<int>(offset - s.start)};
        }
        return p;
    }
};

// ---- the expander ----------------------------------------------------------------------------

class Lexer {
public:
    // `check`: only the syntax counts (${X:?msg} does not fail for an unset X).
    Lexer(const Word& w, const Env& env, char escape, bool split, bool check = false)
        : s_(w.raw), env_(env), esc_(escape), split_(split), check_(check), pos_(w.pos) {}

    std::vector<std::string> run() {
        process(0, nullptr);
        if (!split_) return {word_};
        end_word();
        return words_;
    }

private:
    const std::string& s_;
    const Env& env_;
    char esc_;
    bool split_;
    bool check_;
    Pos pos_;
    size_t i_ = 0;
    std::vector<std::string> words_;
    std::string word_;
    bool in_word_ = false;

    [[noreturn]] void fail(size_t at, const std::string& what) const {
        throw ParseError(pos_.line, pos_.column + static_cast<int>(at), what);
    }

    // `out` null: the top level, where (in split mode) an unquoted blank ends a word.
    void add(std::string* out, char c, bool quoted) {
        if (out) {
            *out += c;
        } else if (split_ && !quoted && blank(c)) {
            end_word();
        } else {
            word_ += c;
            in_word_ = true;
        }
    }
    void add_str(std::string* out, const std::string& str, bool quoted) {
        for (char c : str) add(out, c, quoted);
        if (quoted && !out) in_word_ = true;  // "" is a word of its own
    }
    void end_word() {
        if (in_word_) words_.push_back(word_);
        word_.clear();
        in_word_ = false;
    }

    // Reads until `stop` (0: the end of the word), into `out` (nested ${...:-word}) or the top.
    void process(char stop, std::string* out) {
        while (i_ < s_.size()) {
            char c = s_[i_];
            if (stop && c == stop) return;
            if (c == '\'') {
                size_t open = i_++;
                size_t close = s_.find('\'', i_);
                if (close == std::string::npos) fail(open, "unexpected end of statement while looking for matching single-quote");
                add_str(out, s_.substr(i_, close - i_), true);
                i_ = close + 1;
            } else if (c == '"') {
                size_t open = i_++;
                std::string q;
                bool closed = false;
                while (i_ < s_.size()) {
                    char d = s_[i_];
                    if (d == '"') {
                        closed = true;
                        ++i_;
                        break;
                    }
                    if (d == esc_) {
                        // only $, " and the escape itself are escaped inside double quotes
                        ++i_;
                        if (i_ >= s_.size()) break;
                        char n = s_[i_];
                        if (n != '"' && n != '$' && n != esc_) q += d;
                        q += n;
                        ++i_;
                    } else if (d == '$') {
                        q += dollar();
                    } else {
                        q += d;
                        ++i_;
                    }
                }
                if (!closed) fail(open, "unexpected end of statement while looking for matching double-quote");
                add_str(out, q, true);
            } else if (c == esc_) {
                ++i_;
                if (i_ < s_.size()) add(out, s_[i_++], true);
            } else if (c == '$') {
                add_str(out, dollar(), false);
            } else {
                add(out, c, false);
                ++i_;
            }
        }
        if (stop) fail(i_, std::string("missing '") + stop + "'");
    }

    static bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

    // At a '$': the value it stands for.
    std::string dollar() {
        size_t at = i_++;
        if (i_ >= s_.size()) return "$";
        if (s_[i_] != '{') {
            size_t b = i_;
            while (i_ < s_.size() && name_char(s_[i_])) ++i_;
            if (b == i_) return "$";
            return value(s_.substr(b, i_ - b)).value_or("");
        }
        ++i_;
        size_t b = i_;
        while (i_ < s_.size() && name_char(s_[i_])) ++i_;
        std::string name = s_.substr(b, i_ - b);
        if (i_ >= s_.size()) fail(at, "missing '}' in ${" + name);
        if (name.empty()) fail(at, "bad substitution: a variable name is expected after ${");
        char c = s_[i_];
        if (c == '}') {
            ++i_;
            return value(name).value_or("");
        }
        bool colon = false;
        if (c == ':') {
            colon = true;
            ++i_;
            if (i_ >= s_.size()) fail(at, "missing '}' in ${" + name);
            c = s_[i_];
        }
        if (c != '-' && c != '+' && c != '?') fail(i_, std::string("unsupported modifier (") + c + ") in substitution ${" + name);
        ++i_;
        std::string word;
        process('}', &word);
        ++i_;  // the '}'
        auto v = value(name);
        bool set = v.has_value() && (!colon || !v->empty());
        switch (c) {
        case '-': return set ? *v : word;
        case '+': return set ? word : "";
        default:
            if (!set && !check_) fail(at, name + ": " + (word.empty() ? "is not allowed to be unset" : word));
            return v.value_or("");
        }
    }

    std::optional<std::string> value(const std::string& name) const {
        auto it = env_.find(name);
        if (it == env_.end()) return std::nullopt;
        return it->second;
    }
};

// ---- splitting an instruction's text into raw words ---------------------------------------------

// Words at unquoted blanks; quotes and escapes stay in the words (expand() removes them).
std::vector<Word> split_raw(const Logical& l, size_t from, char esc) {
    std::vector<Word> out;
    const std::string& s = l.text;
    size_t i = from;
    while (i < s.size()) {
        while (i < s.size() && blank(s[i])) ++i;
        if (i >= s.size()) break;
        Word w{"", l.at(i)};
        while (i < s.size() && !blank(s[i])) {
            char c = s[i];
            if (c == esc) {
                w.raw += c;
                if (++i < s.size()) w.raw += s[i++];
            } else if (c == '\'' || c == '"') {
                size_t open = i;
                w.raw += c;
                ++i;
                bool closed = false;
                while (i < s.size()) {
                    if (c == '"' && s[i] == esc && i + 1 < s.size()) {
                        w.raw += s[i];
                        w.raw += s[i + 1];
                        i += 2;
                        continue;
                    }
                    w.raw += s[i];
                    if (s[i++] == c) {
                        closed = true;
                        break;
                    }
                }
                if (!closed) {
                    Pos p = l.at(open);
                    throw ParseError(p.line, p.column, std::string("unexpected end of statement while looking for matching ") +
                                                           (c == '"' ? "double-quote" : "single-quote"));
                }
            } else {
                w.raw += c;
                ++i;
            }
        }
        out.push_back(std::move(w));
    }
    return out;
}

// The exec form: a JSON array of strings, or nullopt (then it is the shell form, as Docker does).
std::optional<std::vector<std::string>> json_array(const std::string& text) {
    std::string t = rtrim(text);
    if (t.empty() || t[0] != '[' || t.back() != ']') return std::nullopt;
    try {
        auto j = nlohmann::json::parse(t);
        if (!j.is_array()) return std::nullopt;
        std::vector<std::string> v;
        for (const auto& e : j) {
            if (!e.is_string()) return std::nullopt;
            v.push_back(e.get<std::string>());
        }
        return v;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

const std::set<std::string>& known() {
    static const std::set<std::string> k = {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV",
                                            "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR",
                                            "ARG", "STOPSIGNAL", "SHELL", "ONBUILD", "HEALTHCHECK"};
    return k;
}

// The flags each instruction accepts (--name=value before its arguments).
const std::set<std::string>& flags_of(const std::string& kw) {
    static const std::map<std::string, std::set<std::string>> f = {
        {"FROM", {"platform"}}, {"COPY", {"chown", "chmod", "from"}}, {"ADD", {"chown", "chmod"}},
        {"HEALTHCHECK", {"interval", "timeout", "start-period", "start-interval", "retries"}}};
    static const std::set<std::string> none;
    auto it = f.find(kw);
    return it == f.end() ? none : it->second;
}

// ENV and LABEL: "k=v k2=v2", or the old "k v with blanks" (ENV/LABEL with one key).
void name_values(Instruction& in, const Logical& l, size_t rest, char esc) {
    auto words = split_raw(l, rest, esc);
    if (words.empty()) throw ParseError(in.pos.line, in.pos.column, in.keyword + " requires at least one argument");
    if (words[0].raw.find('=') == std::string::npos) {
        // the old form: the first word is the name, everything after the blanks the value
        if (words.size() < 2) {
            throw ParseError(words[0].pos.line, words[0].pos.column,
                             in.keyword + " " + words[0].raw + ": " + in.keyword + " must have two arguments (or be NAME=VALUE)");
        }
        size_t off = l.text.find(words[0].raw, rest) + words[0].raw.size();
        while (off < l.text.size() && blank(l.text[off])) ++off;
        in.pairs.push_back({words[0], Word{rtrim(l.text.substr(off)), l.at(off)}, true});
        return;
    }
    for (const auto& w : words) {
        size_t eq = w.raw.find('=');
        if (eq == std::string::npos) {
            throw ParseError(w.pos.line, w.pos.column,
                             "syntax error - can't find = in \"" + w.raw + "\". Must be of the form: name=value");
        }
        if (eq == 0) throw ParseError(w.pos.line, w.pos.column, in.keyword + " names can not be blank");
        in.pairs.push_back({Word{w.raw.substr(0, eq), w.pos},
                            Word{w.raw.substr(eq + 1), Pos{w.pos.line, w.pos.column + static_cast<int>(eq) + 1}}, true});
    }
}

// Which words are expanded at build time (so their syntax is checked now).
bool expands(const std::string& kw) {
    static const std::set<std::string> e = {"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL",
                                            "USER", "VOLUME", "WORKDIR", "ARG"};
    return e.count(kw) > 0;
}

Instruction parse_line(const Logical& l, char esc) {
    const std::string& s = l.text;
    size_t i = 0;
    while (i < s.size() && blank(s[i])) ++i;
    size_t kb = i;
    while (i < s.size() && !blank(s[i])) ++i;
    Instruction in;
    in.pos = l.at(kb);
    in.keyword = upper(s.substr(kb, i - kb));
    in.original = rtrim(s.substr(kb));
    if (!known().count(in.keyword)) {
        throw ParseError(in.pos.line, in.pos.column, "unknown instruction: " + s.substr(kb, i - kb));
    }
    while (i < s.size() && blank(s[i])) ++i;
    Pos after_kw = i < s.size() ? l.at(i) : Pos{in.pos.line, in.pos.column + static_cast<int>(in.keyword.size()) + 1};

    // --flag=value words
    const auto& allowed = flags_of(in.keyword);
    while (i + 1 < s.size() && s[i] == '-' && s[i + 1] == '-') {
        size_t fb = i;
        while (i < s.size() && !blank(s[i])) ++i;
        std::string flag = s.substr(fb + 2, i - fb - 2);
        size_t eq = flag.find('=');
        std::string name = flag.substr(0, eq);
        Pos fp = l.at(fb);
        if (!allowed.count(name)) throw ParseError(fp.line, fp.column, "unknown flag: --" + name + " for " + in.keyword);
        if (eq == std::string::npos) throw ParseError(fp.line, fp.column, "flag --" + name + " needs a value (--" + name + "=...)");
        if (in.flags.count(name)) throw ParseError(fp.line, fp.column, "duplicate flag --" + name);
        in.flags[name] = Word{flag.substr(eq + 1), Pos{fp.line, fp.column + static_cast<int>(eq) + 3}};
        while (i < s.size() && blank(s[i])) ++i;
        after_kw = i < s.size() ? l.at(i) : after_kw;
    }
    std::string rest = i < s.size() ? rtrim(s.substr(i)) : "";
    auto need = [&](size_t n, const std::string& what) {
        if (in.args.size() < n) throw ParseError(after_kw.line, after_kw.column, in.keyword + " requires " + what);
    };

    const std::string& kw = in.keyword;
    if (kw == "ONBUILD") {
        // A trigger: an instruction stored in the image (config.OnBuild, as written) and run
        // when a build uses it as FROM. Checked now as the instruction it is.
        if (rest.empty()) throw ParseError(after_kw.line, after_kw.column, "ONBUILD requires at least one argument");
        Logical sub;
        for (const auto& seg : l.segments) {
            size_t end = &seg == &l.segments.back() ? l.text.size() : (&seg + 1)->start;
            if (end <= i) continue;
            size_t from = std::max(seg.start, i);
            sub.append(l.text.substr(from, end - from), Pos{seg.pos.line, seg.pos.column + static_cast<int>(from - seg.start)});
        }
        Instruction trigger = parse_line(sub, esc);
        if (trigger.keyword == "ONBUILD" || trigger.keyword == "FROM" || trigger.keyword == "MAINTAINER") {
            throw ParseError(trigger.pos.line, trigger.pos.column,
                             trigger.keyword == "ONBUILD" ? "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
                                                          : trigger.keyword + " isn't allowed as an ONBUILD trigger");
        }
        in.args.push_back({rest, after_kw});
        return in;
    }
    if (kw == "HEALTHCHECK") {
        // HEALTHCHECK [--interval=D --timeout=D --start-period=D --start-interval=D --retries=N] CMD command | NONE
        for (const auto& [name, f] : in.flags) {
            std::string why;
            if (name == "retries") {
                if (f.raw.empty() || f.raw.find_first_not_of("-0123456789") != std::string::npos)
                    throw ParseError(f.pos.line, f.pos.column, "--retries: \"" + f.raw + "\" is not a number");
                if (f.raw[0] == '-') throw ParseError(f.pos.line, f.pos.column, "--retries cannot be negative (" + f.raw + ")");
            } else if (auto ns = parse_duration(f.raw, why); !ns) {
                throw ParseError(f.pos.line, f.pos.column, "--" + name + ": " + why);
            } else if (*ns != 0 && *ns < 1000000) {
                throw ParseError(f.pos.line, f.pos.column, "--" + name + " cannot be less than 1ms (" + f.raw + ")");
            }
        }
        size_t tb = i;
        while (i < s.size() && !blank(s[i])) ++i;
        std::string type = upper(s.substr(tb, i - tb));
        if (type.empty()) throw ParseError(after_kw.line, after_kw.column, "HEALTHCHECK requires at least one argument");
        in.args.push_back({type, l.at(tb)});
        while (i < s.size() && blank(s[i])) ++i;
        std::string cmd = i < s.size() ? rtrim(s.substr(i)) : "";
        if (type == "NONE") {
            if (!cmd.empty()) throw ParseError(l.at(i).line, l.at(i).column, "HEALTHCHECK NONE takes no arguments");
            return in;
        }
        if (type != "CMD") throw ParseError(in.args[0].pos.line, in.args[0].pos.column, "Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
        if (cmd.empty()) throw ParseError(after_kw.line, after_kw.column, "HEALTHCHECK CMD requires a command");
        Pos cp = l.at(i);
        if (auto a = json_array(cmd)) {
            in.json = true;
            for (auto& v : *a) in.args.push_back({v, cp});
        } else {
            in.args.push_back({cmd, cp});
        }
        return in;
    }
    if (kw == "RUN" || kw == "CMD" || kw == "ENTRYPOINT" || kw == "SHELL") {
        if (auto a = json_array(rest)) {
            in.json = true;
            for (auto& v : *a) in.args.push_back({v, after_kw});
            if (kw == "SHELL" && in.args.empty()) throw ParseError(after_kw.line, after_kw.column, "SHELL requires at least one argument");
        } else if (kw == "SHELL") {
            throw ParseError(after_kw.line, after_kw.column, "SHELL requires the arguments to be in JSON form");
        } else if (!rest.empty()) {
            in.args.push_back({rest, after_kw});
        }
        if (kw == "RUN") need(1, "at least one argument");
    } else if (kw == "COPY" || kw == "ADD" || kw == "VOLUME") {
        if (auto a = json_array(rest)) {
            in.json = true;
            for (auto& v : *a) in.args.push_back({v, after_kw});
        } else {
            in.args = split_raw(l, i, esc);
        }
        if (kw == "VOLUME") need(1, "at least one argument");
        else need(2, "at least two arguments, but got " + std::to_string(in.args.size()));
    } else if (kw == "ENV" || kw == "LABEL") {
        name_values(in, l, i, esc);
    } else if (kw == "ARG") {
        in.args = split_raw(l, i, esc);
        if (in.args.size() != 1) throw ParseError(after_kw.line, after_kw.column, "ARG requires exactly one argument");
        const Word& w = in.args[0];
        size_t eq = w.raw.find('=');
        Instruction::Pair p{Word{w.raw.substr(0, eq), w.pos}, Word{}, eq != std::string::npos};
        if (p.has_value) p.value = Word{w.raw.substr(eq + 1), Pos{w.pos.line, w.pos.column + static_cast<int>(eq) + 1}};
        if (p.key.raw.empty()) throw ParseError(w.pos.line, w.pos.column, "ARG names can not be blank");
        in.pairs.push_back(p);
    } else if (kw == "FROM") {
        in.args = split_raw(l, i, esc);
        if (in.args.size() != 1 && in.args.size() != 3) {
            throw ParseError(after_kw.line, after_kw.column, "FROM requires either one or three arguments (IMAGE [AS NAME])");
        }
        if (in.args.size() == 3 && upper(in.args[1].raw) != "AS") {
            throw ParseError(in.args[1].pos.line, in.args[1].pos.column, "FROM's second argument must be AS, not " + in.args[1].raw);
        }
        if (in.args.size() == 3) {
            static const std::regex stage("^[a-zA-Z][a-zA-Z0-9_.-]*$");
            if (!std::regex_match(in.args[2].raw, stage)) {
                throw ParseError(in.args[2].pos.line, in.args[2].pos.column, "invalid name for build stage: \"" + in.args[2].raw +
                                                                                 "\", name can't start with a number or contain symbols");
            }
        }
    } else if (kw == "EXPOSE") {
        in.args = split_raw(l, i, esc);
        need(1, "at least one argument");
    } else {  // WORKDIR USER STOPSIGNAL MAINTAINER: the rest, one word
        if (!rest.empty()) in.args.push_back({rest, after_kw});
        need(1, "exactly one argument");
    }

    // Syntax of what will be expanded, checked now (an empty environment: only the form counts).
    if (expands(kw) && !in.json) {
        static const Env none;
        auto check = [&](const Word& w) { (void)Lexer(w, none, esc, false, true).run(); };
        for (const auto& a : in.args) check(a);
        for (const auto& p : in.pairs) {
            check(p.key);
            if (p.has_value) check(p.value);
        }
        for (const auto& [n, f] : in.flags) check(f);
    }
    return in;
}

}  // namespace

std::optional<long long> parse_duration(const std::string& text, std::string& why) {
    // Go's time.ParseDuration: [-+]? then (number unit)+, units ns us µs ms s m h; "0" alone.
    static const std::map<std::string, double> units = {{"ns", 1}, {"us", 1e3}, {"\u00b5s", 1e3}, {"ms", 1e6},
                                                        {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    if (text == "0") return 0;
    size_t k = 0;
    bool neg = false;
    if (k < text.size() && (text[k] == '-' || text[k] == '+')) neg = text[k++] == '-';
    if (k == text.size()) {
        why = "invalid duration \"" + text + "\"";
        return std::nullopt;
    }
    double total = 0;
    while (k < text.size()) {
        size_t nb = k;
        while (k < text.size() && (std::isdigit(static_cast<unsigned char>(text[k])) || text[k] == '.')) ++k;
        if (nb == k) {
            why = "invalid duration \"" + text + "\"";
            return std::nullopt;
        }
        double v = std::strtod(text.substr(nb, k - nb).c_str(), nullptr);
        size_t ub = k;
        while (k < text.size() && !std::isdigit(static_cast<unsigned char>(text[k])) && text[k] != '.') ++k;
        auto u = units.find(text.substr(ub, k - ub));
        if (u == units.end()) {
            why = ub == k ? "missing unit in duration \"" + text + "\"" : "unknown unit \"" + text.substr(ub, k - ub) + "\" in duration \"" + text + "\"";
            return std::nullopt;
        }
        total += v * u->second;
    }
    if (total > 9.2e18) {
        why = "invalid duration \"" + text + "\" (too long)";
        return std::nullopt;
    }
    return static_cast<long long>(neg ? -total : total);
}

Instruction parse_instruction(const std::string& text, char escape) {
    Logical l;
    l.append(text, Pos{1, 1});
    return parse_line(l, escape);
}

std::string expand(const Word& w, const Env& env, char escape) { return Lexer(w, env, escape, false).run().front(); }

std::vector<std::string> expand_words(const Word& w, const Env& env, char escape) {
    return Lexer(w, env, escape, true).run();
}

Env env_from_list(const std::vector<std::string>& list) {
    Env e;
    for (const auto& kv : list) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) e[kv] = "";
        else e[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return e;
}

Dockerfile parse(const std::string& text) {
    Dockerfile df;
    std::vector<std::string> lines;
    {
        size_t b = 0;
        while (b <= text.size()) {
            size_t e = text.find('\n', b);
            if (e == std::string::npos) e = text.size();
            std::string line = text.substr(b, e - b);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            lines.push_back(line);
            if (e == text.size()) break;
            b = e + 1;
        }
    }
    // Parser directives: "# name=value" lines at the very top (before any other line).
    size_t n = 0;
    static const std::regex directive(R"(^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$)");
    std::set<std::string> seen;
    for (; n < lines.size(); ++n) {
        std::smatch m;
        if (!std::regex_match(lines[n], m, directive)) break;
        std::string name = m[1].str();
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (name != "escape" && name != "syntax") break;  // an ordinary comment ends the directives
        if (!seen.insert(name).second) throw ParseError(static_cast<int>(n) + 1, 1, "only one " + name + " parser directive can be used");
        if (name == "escape") {
            std::string v = m[2].str();
            if (v != "\\" && v != "`") {
                throw ParseError(static_cast<int>(n) + 1, static_cast<int>(m.position(2)) + 1,
                                 "invalid escape token '" + v + "' does not validate: only \\ and ` are allowed");
            }
            df.escape = v[0];
        }
    }
    const char esc = df.escape;
    bool have_from = false;
    Logical cur;
    bool continuing = false;
    auto is_comment = [](const std::string& l) {
        size_t k = l.find_first_not_of(" \t");
        return k != std::string::npos && l[k] == '#';
    };
    auto finish = [&]() {
        Instruction in = parse_line(cur, esc);
        if (in.keyword != "ARG" && in.keyword != "FROM" && !have_from) {
            throw ParseError(in.pos.line, in.pos.column, "no build stage in current context: " + in.keyword + " before the first FROM");
        }
        if (in.keyword == "FROM") have_from = true;
        df.instructions.push_back(std::move(in));
        cur = Logical{};
    };
    for (size_t k = n; k < lines.size(); ++k) {
        const std::string& raw = lines[k];
        int lineno = static_cast<int>(k) + 1;
        if (is_comment(raw)) continue;  // comments are dropped, also inside a continuation
        std::string t = rtrim(raw);
        if (t.find_first_not_of(" \t") == std::string::npos) {
            if (continuing) df.warnings.push_back("Dockerfile:" + std::to_string(lineno) + ": empty continuation line");
            continue;
        }
        bool cont = !t.empty() && t.back() == esc;
        if (cont) t.pop_back();
        cur.append(t, Pos{lineno, 1});
        continuing = cont;
        if (!cont) finish();
    }
    if (continuing && !cur.text.empty()) finish();  // a continuation at the very end: Docker takes the line as it is
    if (!have_from) {
        throw ParseError(static_cast<int>(lines.size()), 1, df.instructions.empty() ? "the Dockerfile has no instructions"
                                                                                   : "no FROM instruction: a build needs a stage");
    }
    return df;
}

}  // namespace builder
