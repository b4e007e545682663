#!/bin/sh
# steps 05 and 07 on a real cgroup v2 kernel: boot Debian's cloud kernel under qemu (TCG: KVM is
# not available everywhere) with an initramfs holding the tools and tests of the chosen suites
# (with their shared libraries, at the same paths as here), the busybox image and the kernel
# modules the steps need; mount cgroup2 on /sys/fs/cgroup, delegate the controllers from the
# root as systemd would, run the gtest binaries, and report through the serial console.
#
#   run-vm.sh BUILD_DIR [SUITE...]   SUITE: step05 (the default), step07; several share one boot
#                                    (ctest runs it; exit 77 = skipped)
#   MINIBOX_VM_KEEP=1 keeps the work directory (initramfs, console.log) for a look afterwards.
set -eu
build=$(cd "$1" && pwd)
shift
suites=${*:-step05}
skip() {
    if [ "${CI:-}" = "true" ]; then echo "vm test: $* (CI=true forbids skipping)"; exit 1; fi
    echo "vm test skipped: $*"; exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (to read the kernel image and modules)"
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || skip "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
kernel=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1 || true)
[ -n "$kernel" ] || skip "no Debian cloud kernel (apt-get install linux-image-cloud-amd64)"
kv=${kernel#/boot/vmlinuz-}
command -v cpio >/dev/null || skip "no cpio (apt-get install cpio)"
bb=$(command -v busybox || true)
[ -n "$bb" ] && file -L "$bb" | grep -q "statically linked" || skip "no static busybox (apt-get install busybox-static)"
rootfs=${MINIBOX_ROOT:-/var/lib/minibox}/images/busybox/rootfs
[ -d "$rootfs" ] || skip "no default image (scripts/make-image.sh)"

# Per suite: the binaries it needs, and the gtest binaries it runs (in this order).
bins="" tests=""
for s in $suites; do
    case $s in
        step05)
            bins="$bins $build/bin/step05_cgroups"
            tests="$tests step05_unit_test step05_integration_test" ;;
        step07)
            bins="$bins $build/bin/step07_full $build/bin/nsinfo"
            tests="$tests step07_cgroup_integration_test step07_resources_integration_test"
            tests="$tests step07_lifecycle_integration_test step07_security_integration_test" ;;
        *) echo "run-vm.sh: unknown suite '$s' (step05, step07)"; exit 2 ;;
    esac
done
for t in $tests; do bins="$bins $build/tests/$t"; done
for b in $bins; do
    [ -x "$b" ] || { echo "vm test: $b is missing (cmake --build $build --target $(basename "$b"))"; exit 1; }
done

start=$(date +%s)
work=$(mktemp -d /tmp/minibox-vm-XXXXXX)
[ -n "${MINIBOX_VM_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
r=$work/root
mkdir -p "$r/bin" "$r/sbin" "$r/proc" "$r/sys" "$r/dev" "$r/run" "$r/tmp" "$r/modules" "$r/etc" "$r/newroot"
cp "$bb" "$r/bin/busybox"
for a in $("$bb" --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done

# A binary at its own path, without its debug information (the initramfs stays small, and the
# security test copies itself into every container), with its libraries.
carry() { # carry SOURCE [DEST]
    dest=$r${2:-$1}
    mkdir -p "$(dirname "$dest")"
    rm -f "$dest"
    strip --strip-debug -o "$dest" "$1" 2>/dev/null || cp "$1" "$dest"
    for lib in $(ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do
        [ -e "$r$lib" ] && continue
        mkdir -p "$r$(dirname "$lib")"
        cp -L "$lib" "$r$lib"
    done
}
for b in $bins; do carry "$b"; done
case " $suites " in *" step07 "*)
    # The security test copies itself and what it links into its bundle with
    # "ldd SELF" and "cp -L --parents": the loader lists as ldd does, busybox cp lacks --parents.
    carry "$(command -v cp)" /bin/cp
    printf '#!/bin/sh\nexec /lib64/ld-linux-x86-64.so.2 --list "$@"\n' >"$r/bin/ldd"
    chmod +x "$r/bin/ldd" ;;
esac
mkdir -p "$r$rootfs"
cp -a "$rootfs/." "$r$rootfs/"

# The modules: bridge/veth (and llc, stp) for networking, overlay for images, null_blk (with
# configfs) a disk for step07's io.max.
for m in llc stp bridge veth overlay configfs null_blk; do
    f=$(find "/lib/modules/$kv" -name "$m.ko*" | head -1)
    [ -n "$f" ] || continue
    case "$f" in
        *.xz) xz -dc "$f" >"$r/modules/$m.ko" ;;
        *.zst) zstd -dqc "$f" >"$r/modules/$m.ko" ;;
        *) cp "$f" "$r/modules/$m.ko" ;;
    esac
done

# MINIBOX_VM_GTEST_FILTER: only the matching tests (to look at one failure quickly).
filter=${MINIBOX_VM_GTEST_FILTER:+--gtest_filter=$MINIBOX_VM_GTEST_FILTER}
runs=""
for t in $tests; do
    runs="$runs
echo MINIBOX-VM-BEGIN $t; s=\$(date +%s); $build/tests/$t --gtest_color=no $filter 2>&1
echo \"MINIBOX-VM-RESULT $t \$? (\$((\$(date +%s) - s)) s)\""
done
cat >"$r/init" <<INIT
#!/bin/sh
export PATH=/bin CI=${CI:-}
if [ ! -e /.stage2 ]; then
    # pivot_root(2) refuses the initramfs itself: copy everything onto a tmpfs and switch.
    mount -t proc proc /proc
    mount -t tmpfs -o size=900m tmpfs /newroot
    for d in /*; do case \$d in /proc|/sys|/dev|/newroot) mkdir -p /newroot\$d ;; *) cp -a \$d /newroot/ ;; esac; done
    touch /newroot/.stage2
    umount /proc
    exec switch_root /newroot /init
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# What systemd does at boot: the root delegates the controllers to its children (io and
# hugetlb too, so step07's paths for them run for real).
for c in cpuset cpu io memory hugetlb pids; do
    grep -qw \$c /sys/fs/cgroup/cgroup.controllers && echo "+\$c" >/sys/fs/cgroup/cgroup.subtree_control
done
for m in llc stp bridge veth overlay configfs null_blk; do [ -e /modules/\$m.ko ] && insmod /modules/\$m.ko; done
echo "MINIBOX-VM: kernel \$(uname -r), /sys/fs/cgroup magic 0x\$(stat -f -c %t /sys/fs/cgroup) (cgroup2 = 0x63677270), controllers: \$(cat /sys/fs/cgroup/cgroup.subtree_control)"
cd /tmp
$runs
poweroff -f
INIT
chmod +x "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1 >"$work/initrd.gz")
booted=$(date +%s)

log=$work/console.log
timeout 540 "$qemu" -accel tcg -cpu max -smp 2 -m 1536 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet" >"$log" 2>&1 || true
end=$(date +%s)
tr -d '\r' <"$log" >"$log.txt"
sed -n 's/.*\(MINIBOX-VM: .*\)/\1/p' "$log.txt"  # after the console's escape codes
grep -E "^MINIBOX-VM-RESULT|^\[ *(OK|FAILED|PASSED|SKIPPED) " "$log.txt" || true
ok=1
# The VM exists to run the v2 paths: under CI=true a test that skipped there is a failure.
if [ "${CI:-}" = "true" ] && grep -q "^\[  SKIPPED \] [A-Za-z]" "$log.txt"; then
    ok=0
    echo "vm test: tests skipped in the VM (CI=true forbids skipping):"
    grep -B3 "^\[  SKIPPED \] [A-Za-z]" "$log.txt"
fi
for t in $tests; do
    grep -q "^MINIBOX-VM-RESULT $t 0 " "$log.txt" && continue
    ok=0
    echo "vm test: $t did not pass; its output:"
    sed -n "/^MINIBOX-VM-BEGIN $t\$/,/^MINIBOX-VM-RESULT $t /p" "$log.txt" | grep -vE "^\[ (RUN|      OK) "
done
echo "vm test: initramfs $((booted - start)) s, qemu $((end - booted)) s ($(du -h "$work/initrd.gz" | cut -f1) initrd)"
if [ $ok = 1 ]; then
    echo "vm test: $suites tests passed on $kv (cgroup v2)"
    exit 0
fi
echo "vm test: failed; the console's last lines:"
tail -15 "$log.txt"
exit 1
