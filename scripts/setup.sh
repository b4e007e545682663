#!/bin/sh
# The first README command: install what the toolkit needs from the distribution's packages,
# build every step, make the default image, and run a first container.
# Debian 12 or Ubuntu 22.04+, as root. Running it again is harmless.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root (sudo scripts/setup.sh): containers need root" >&2
    exit 1
fi

say() { [ -n "${MINIBOX_QUIET:-}" ] || echo "setup: $*"; }

# 1. Packages. Only what is missing is installed; nothing is downloaded from outside the
#    distribution's archive.
required="cmake make g++ pkg-config file libcli11-dev libspdlog-dev libfmt-dev libgtest-dev
          busybox-static nlohmann-json3-dev libarchive-dev libssl-dev iproute2 nftables libnftables-dev util-linux procps
          psmisc libseccomp-dev libboost-dev libcurl4-openssl-dev nettle-dev"
# Used by the tests of later steps when the distribution has them (the cgroup v2 VM test
# boots Debian's cloud kernel under qemu; step06 imports an OCI layout made by umoci; step07's
# client tests drive the runtime from podman, containerd's ctr and dockerd, and run the same
# suite on runc and crun for comparison; the engine and image tests (issues 11, 12) drive the
# docker CLI and a private docker-registry, with htpasswd, zstd and openssl for auth, layers and
# TLS). ccache shares compiled objects between build trees.
# clang with libclang-rt-14-dev (libFuzzer, the sanitizers) builds fuzz/ (-DMINIBOX_FUZZ=ON).
optional="qemu-system-x86 linux-image-cloud-amd64 cpio kmod umoci ccache
          podman containerd docker.io runc crun skopeo clang libclang-rt-14-dev
          docker-registry apache2-utils zstd openssl"
# Packages that ship a system daemon: the tests start their own private instances and must
# never find (or leave) one running.
daemons="docker.io containerd docker-registry"

missing=""
for p in $required; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
for p in $optional; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
    apt-cache show "$p" >/dev/null 2>&1 && missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # While installing, policy-rc.d (exit 101: "action forbidden") keeps the maintainer scripts
    # from starting docker.service or containerd.service; ours only if none is there already.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# minibox setup.sh: no service starts during package installation\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    [ -e "$policy" ] && grep -q 'minibox setup.sh' "$policy" && rm -f "$policy"
    # The units stay enabled for the next boot: disable (and stop, should one have started)
    # those of the daemon packages installed just now. A host without systemd has none.
    # (docker.io pulls in containerd, so either one means both units.)
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        fresh=""
        for p in $daemons; do
            case " $missing " in *" $p "*) fresh=yes ;; esac
        done
        if [ -n "$fresh" ]; then
            say "disabling the system docker/containerd/registry just installed (the tests start private ones)"
            for unit in docker.service docker.socket containerd.service docker-registry.service; do
                systemctl disable --now "$unit" >/dev/null 2>&1 || true
            done
        fi
    fi
fi

# 2. Build.
say "building into build/"
cmake -S . -B build -DMINIBOX_WERROR="${MINIBOX_WERROR:-OFF}" >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

# 3. The default image.
MINIBOX_QUIET=1 scripts/make-image.sh build/bin/nsinfo >/dev/null
say "default image in ${MINIBOX_ROOT:-/var/lib/minibox}/images/busybox/rootfs"

# 4. A first container: another hostname, PID 1.
[ -n "${MINIBOX_QUIET:-}" ] && exit 0
echo "setup: a first container (step02_pid --hostname first-box):"
echo "  host:      hostname=$(hostname) pid-of-this-shell=$$"
build/bin/step02_pid --hostname first-box -- /bin/sh -c 'echo "  container: hostname=$(hostname) pid=$$ ppid=$PPID"'
echo "setup: done. Next: export PATH=\$PWD/build/bin:\$PATH, then read workshop/README.md"
