// The v2 device controller: a BPF_PROG_TYPE_CGROUP_DEVICE program, assembled by hand.
//
// The kernel calls the program with a struct bpf_cgroup_dev_ctx in r1:
//   offset 0  u32 access_type = (access << 16) | type   type: BPF_DEVCG_DEV_BLOCK 1, _CHAR 2
//                                                        access: _MKNOD 1, _READ 2, _WRITE 4
//   offset 4  u32 major
//   offset 8  u32 minor
// and takes r0 at `exit` as the verdict: 1 allow, 0 deny (open(2) then fails with EPERM).
//
// The shape (the same as runc's devicefilter and crun's ebpf.c, written here anew):
//   prologue   r2 = type, r3 = access, r4 = major, r5 = minor
//   one block per rule, the LAST rule first: each test that fails jumps to the next block,
//              when all pass the block sets r0 to the rule's verdict and exits
//   epilogue   r0 = 0 (deny) - unless a rule matched everything, which then ends the program
//
// What "matches" means for the access bits (the kernel's v1 list behaves alike): an allow rule
// must cover every bit asked for (r3 & ~rule == 0); a deny rule hits when it shares any bit
// with the request (r3 & rule != 0), so "deny c 1:3 w" also refuses an open for read+write.
#include "devices_bpf.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <fmt/format.h>

#include "error.hpp"
#include "narrate.hpp"
#include "unique_fd.hpp"

namespace devices_bpf {
namespace {

// The name the kernel keeps with the program (bpftool prog shows it): how a later attach
// recognises the program this runtime put there before, among others' (systemd's, ...).
constexpr const char* kProgName = "minibox_devices";

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}
bpf_insn load_u32(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0); }
bpf_insn and32(uint8_t dst, int32_t imm) { return insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm); }
bpf_insn rsh32(uint8_t dst, int32_t imm) { return insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm); }
bpf_insn mov32_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov64(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn jne(uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm); }
bpf_insn jeq(uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

constexpr int kAllAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

int access_bits(const std::string& access) {
    if (access.empty()) return kAllAccess;  // the spec's default is "rwm"
    int bits = 0;
    for (char c : access) {
        if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
        else if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
        else if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
        else throw Error(fmt::format("device rule access \"{}\": only r, w and m are known", access));
    }
    return bits;
}

int type_code(char type) {
    switch (type) {
        case 'c': case 'u': return BPF_DEVCG_DEV_CHAR;
        case 'b': return BPF_DEVCG_DEV_BLOCK;
        case 'a': return 0;  // any: no test
    }
    throw Error(fmt::format("device rule type '{}': a, c or b", type));
}

// One rule's block; `conditions` jump past the block (to the next one) when they fail.
std::vector<bpf_insn> block(const spec::DeviceRule& r) {
    std::vector<bpf_insn> tests;  // offsets filled in once the block's length is known
    if (int t = type_code(r.type)) tests.push_back(jne(2, t, 0));
    int bits = access_bits(r.access);
    if (bits != kAllAccess) {
        tests.push_back(mov32_reg(1, 3));
        if (r.allow) {
            tests.push_back(and32(1, kAllAccess & ~bits));  // bits asked for but not granted
            tests.push_back(jne(1, 0, 0));
        } else {
            tests.push_back(and32(1, bits));  // bits asked for and refused
            tests.push_back(jeq(1, 0, 0));
        }
    }
    if (r.major >= 0) tests.push_back(jne(4, static_cast<int32_t>(r.major), 0));
    if (r.minor >= 0) tests.push_back(jne(5, static_cast<int32_t>(r.minor), 0));
    tests.push_back(mov64(0, r.allow ? 1 : 0));
    tests.push_back(exit_insn());
    int len = static_cast<int>(tests.size());
    for (int i = 0; i < len; ++i) {
        uint8_t cls = BPF_CLASS(tests[i].code);
        if (cls == BPF_JMP && BPF_OP(tests[i].code) != BPF_EXIT) tests[i].off = static_cast<int16_t>(len - (i + 1));
    }
    return tests;
}

bool matches_everything(const spec::DeviceRule& r) {
    return r.type == 'a' && r.major < 0 && r.minor < 0 && access_bits(r.access) == kAllAccess;
}

long bpf(int cmd, bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof attr); }

std::string reg(uint8_t r, bool wide) { return (wide ? "r" : "w") + std::to_string(r); }

}  // namespace

std::vector<bpf_insn> assemble(const std::vector<spec::DeviceRule>& rules) {
    std::vector<bpf_insn> prog = {
        load_u32(2, 1, 0), and32(2, 0xffff),  // r2 = type
        load_u32(3, 1, 0), rsh32(3, 16),      // r3 = access
        load_u32(4, 1, 4),                    // r4 = major
        load_u32(5, 1, 8),                    // r5 = minor
    };
    // Last rule first. A rule that matches every access decides for all that the earlier rules
    // would see: it ends the program (and the verifier refuses code after it as unreachable).
    for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
        auto b = block(*it);
        prog.insert(prog.end(), b.begin(), b.end());
        if (matches_everything(*it)) return prog;
    }
    prog.push_back(mov64(0, 0));  // no rule matched: deny
    prog.push_back(exit_insn());
    return prog;
}

std::vector<std::string> disassemble(const std::vector<bpf_insn>& prog) {
    std::vector<std::string> out;
    for (size_t pc = 0; pc < prog.size(); ++pc) {
        const bpf_insn& i = prog[pc];
        std::string line;
        switch (i.code) {
            case BPF_LDX | BPF_MEM | BPF_W:
                line = fmt::format("r{} = *(u32 *)(r{} + {})", i.dst_reg, i.src_reg, i.off);
                if (i.src_reg == 1) {
                    static const char* kField[] = {"access_type", "major", "minor"};
                    if (i.off >= 0 && i.off <= 8 && i.off % 4 == 0) line += fmt::format("  ; ctx->{}", kField[i.off / 4]);
                }
                break;
            case BPF_ALU | BPF_AND | BPF_K: line = fmt::format("{} &= {:#x}", reg(i.dst_reg, false), i.imm); break;
            case BPF_ALU | BPF_RSH | BPF_K: line = fmt::format("{} >>= {}", reg(i.dst_reg, false), i.imm); break;
            case BPF_ALU | BPF_MOV | BPF_X: line = fmt::format("{} = {}", reg(i.dst_reg, false), reg(i.src_reg, false)); break;
            case BPF_ALU64 | BPF_MOV | BPF_K: line = fmt::format("r{} = {}", i.dst_reg, i.imm); break;
            case BPF_JMP | BPF_JNE | BPF_K:
            case BPF_JMP | BPF_JEQ | BPF_K:
                line = fmt::format("if r{} {} {:#x} goto pc+{}  ; -> {}", i.dst_reg,
                                   BPF_OP(i.code) == BPF_JNE ? "!=" : "==", i.imm, i.off, pc + 1 + i.off);
                break;
            case BPF_JMP | BPF_EXIT: line = "exit"; break;
            default: line = fmt::format("(code {:#04x} dst r{} src r{} off {} imm {})", i.code, i.dst_reg, i.src_reg, i.off, i.imm);
        }
        out.push_back(line);
    }
    return out;
}

bool evaluate(const std::vector<bpf_insn>& prog, char type, unsigned major, unsigned minor, char access) {
    uint32_t ctx[3] = {0, major, minor};
    uint32_t t = type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
    uint32_t a = access == 'r' ? BPF_DEVCG_ACC_READ : access == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
    if (access != 'r' && access != 'w' && access != 'm') throw Error("evaluate: access is one of r, w, m");
    ctx[0] = (a << 16) | t;
    uint64_t r[11] = {};
    size_t pc = 0;
    for (size_t steps = 0; steps < 4096; ++steps) {
        if (pc >= prog.size()) throw Error("evaluate: the program runs past its end");
        const bpf_insn& i = prog[pc++];
        switch (i.code) {
            case BPF_LDX | BPF_MEM | BPF_W:
                if (i.src_reg != 1 || i.off < 0 || i.off > 8 || i.off % 4) throw Error("evaluate: a load outside the context");
                r[i.dst_reg] = ctx[i.off / 4];
                break;
            case BPF_ALU | BPF_AND | BPF_K: r[i.dst_reg] = static_cast<uint32_t>(r[i.dst_reg] & static_cast<uint32_t>(i.imm)); break;
            case BPF_ALU | BPF_RSH | BPF_K: r[i.dst_reg] = static_cast<uint32_t>(r[i.dst_reg]) >> i.imm; break;
            case BPF_ALU | BPF_MOV | BPF_X: r[i.dst_reg] = static_cast<uint32_t>(r[i.src_reg]); break;
            case BPF_ALU64 | BPF_MOV | BPF_K: r[i.dst_reg] = static_cast<uint64_t>(static_cast<int64_t>(i.imm)); break;
            case BPF_JMP | BPF_JNE | BPF_K:
                if (r[i.dst_reg] != static_cast<uint64_t>(static_cast<int64_t>(i.imm))) pc += i.off;
                break;
            case BPF_JMP | BPF_JEQ | BPF_K:
                if (r[i.dst_reg] == static_cast<uint64_t>(static_cast<int64_t>(i.imm))) pc += i.off;
                break;
            case BPF_JMP | BPF_EXIT: return r[0] == 1;
            default: throw Error(fmt::format("evaluate: instruction {:#04x} is not one assemble() emits", i.code));
        }
    }
    throw Error("evaluate: no exit after 4096 steps");
}

void attach(const std::string& cgroup_dir, const std::vector<bpf_insn>& prog) {
    if (narrate::mode() != narrate::Mode::quiet) {
        auto lines = disassemble(prog);
        for (size_t pc = 0; pc < lines.size(); ++pc) narrate::note("devices", fmt::format("  {:3}: {}", pc, lines[pc]));
    }
    static const char kLicense[] = "GPL";
    bpf_attr load{};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<uint64_t>(prog.data());
    load.insn_cnt = static_cast<uint32_t>(prog.size());
    load.license = reinterpret_cast<uint64_t>(kLicense);
    static_assert(sizeof("minibox_devices") <= sizeof load.prog_name, "BPF_OBJ_NAME_LEN is 16, the NUL included");
    std::memcpy(load.prog_name, kProgName, std::strlen(kProgName) + 1);
    narrate::Op op{"devices",
                   fmt::format("bpf(BPF_PROG_LOAD, {{BPF_PROG_TYPE_CGROUP_DEVICE, {} instructions, \"GPL\"}})", prog.size()),
                   "the kernel verifies the device filter and returns a handle to it", "bpftool prog show name " + std::string(kProgName)};
    unique_fd fd;
    try {
        fd.reset(static_cast<int>(narrate::sys(op, [&] { return bpf(BPF_PROG_LOAD, load); })));
    } catch (Error& e) {
        // Again with the verifier's log: it says which instruction it refused, and why.
        std::string log(64 * 1024, '\0');
        bpf_attr again = load;
        again.log_level = 1;
        again.log_buf = reinterpret_cast<uint64_t>(log.data());
        again.log_size = static_cast<uint32_t>(log.size());
        long rc = bpf(BPF_PROG_LOAD, again);
        if (rc >= 0) {
            fd.reset(static_cast<int>(rc));  // passed this time (a transient failure)
        } else {
            log.resize(std::strlen(log.c_str()));
            while (!log.empty() && log.back() == '\n') log.pop_back();
            size_t nl = log.rfind('\n');
            std::string last = nl == std::string::npos ? log : log.substr(nl + 1);
            if (!last.empty()) e.with_hint("the verifier says: " + last);
            else if (e.err() == EPERM) e.with_hint("loading BPF programs needs CAP_SYS_ADMIN (or CAP_BPF) on the host");
            throw;
        }
    }

    unique_fd cg(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cg) throw SysError("open(\"" + cgroup_dir + "\", O_DIRECTORY)", errno);

    // The programs already attached here; ours (by name) are replaced once the new one is in,
    // so the cgroup is never without a filter in between.
    std::vector<unique_fd> old;
    uint32_t ids[64] = {};
    bpf_attr q{};
    q.query.target_fd = static_cast<uint32_t>(cg.get());
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = reinterpret_cast<uint64_t>(ids);
    q.query.prog_cnt = 64;
    if (bpf(BPF_PROG_QUERY, q) == 0) {
        for (uint32_t n = 0; n < q.query.prog_cnt && n < 64; ++n) {
            bpf_attr get{};
            get.prog_id = ids[n];
            unique_fd p(static_cast<int>(bpf(BPF_PROG_GET_FD_BY_ID, get)));
            if (!p) continue;
            bpf_prog_info info{};
            bpf_attr ask{};
            ask.info.bpf_fd = static_cast<uint32_t>(p.get());
            ask.info.info_len = sizeof info;
            ask.info.info = reinterpret_cast<uint64_t>(&info);
            if (bpf(BPF_OBJ_GET_INFO_BY_FD, ask) == 0 && std::strcmp(info.name, kProgName) == 0) old.push_back(std::move(p));
        }
    }

    bpf_attr at{};
    at.target_fd = static_cast<uint32_t>(cg.get());
    at.attach_bpf_fd = static_cast<uint32_t>(fd.get());
    at.attach_type = BPF_CGROUP_DEVICE;
    at.attach_flags = BPF_F_ALLOW_MULTI;
    try {
        narrate::sys({"devices", "bpf(BPF_PROG_ATTACH, {\"" + cgroup_dir + "\", BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI})",
                      "from now on every open/mknod of a device node in this cgroup asks the program",
                      "bpftool cgroup show " + cgroup_dir},
                     [&] { return bpf(BPF_PROG_ATTACH, at); });
    } catch (Error& e) {
        if (e.err() == EPERM) e.with_hint("a program attached without BPF_F_ALLOW_MULTI is in the way (bpftool cgroup show " + cgroup_dir + ")");
        throw;
    }
    for (auto& p : old) {
        bpf_attr d{};
        d.target_fd = static_cast<uint32_t>(cg.get());
        d.attach_bpf_fd = static_cast<uint32_t>(p.get());
        d.attach_type = BPF_CGROUP_DEVICE;
        narrate::sys({"devices", "bpf(BPF_PROG_DETACH, {\"" + cgroup_dir + "\", BPF_CGROUP_DEVICE, the previous program})",
                      "the new rules replace the old ones", "bpftool cgroup show " + cgroup_dir},
                     [&] { return bpf(BPF_PROG_DETACH, d); });
    }
}

}  // namespace devices_bpf
