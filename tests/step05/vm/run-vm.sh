#!/bin/sh
# step05 on a real cgroup v2 kernel: boot Debian's cloud kernel under qemu (TCG: KVM is not
# available everywhere) with an initramfs holding the step05 tools and tests (with their shared
# libraries, at the same paths as here), the busybox image and the kernel modules the steps
# need; mount cgroup2 on /sys/fs/cgroup, delegate the controllers from the root as systemd
# would, run the step05 gtest binaries, and report through the serial console.
#
#   run-vm.sh BUILD_DIR       (ctest runs it; exit 77 = skipped)
set -eu
build=$(cd "$1" && pwd)
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

work=$(mktemp -d /tmp/minibox-step05-vm-XXXXXX)
[ -n "${MINIBOX_VM_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
r=$work/root
mkdir -p "$r/bin" "$r/sbin" "$r/proc" "$r/sys" "$r/dev" "$r/run" "$r/tmp" "$r/modules" "$r/etc" "$r/newroot"
cp "$bb" "$r/bin/busybox"
for a in $("$bb" --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done

# The binaries at the paths the tests were built to find them, with their libraries.
bins="$build/bin/step05_cgroups $build/tests/step05_unit_test $build/tests/step05_integration_test"
for b in $bins; do
    mkdir -p "$r$(dirname "$b")"
    cp "$b" "$r$b"
    for lib in $(ldd "$b" | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do
        [ -e "$r$lib" ] && continue
        mkdir -p "$r$(dirname "$lib")"
        cp -L "$lib" "$r$lib"
    done
done
mkdir -p "$r$rootfs"
cp -a "$rootfs/." "$r$rootfs/"

for m in llc stp bridge veth overlay; do
    f=$(find "/lib/modules/$kv" -name "$m.ko*" | head -1)
    [ -n "$f" ] || continue
    case "$f" in
        *.xz) xz -dc "$f" >"$r/modules/$m.ko" ;;
        *.zst) zstd -dqc "$f" >"$r/modules/$m.ko" ;;
        *) cp "$f" "$r/modules/$m.ko" ;;
    esac
done

cat >"$r/init" <<INIT
#!/bin/sh
export PATH=/bin
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
# What systemd does at boot: the root delegates the controllers to its children.
echo "+memory +cpu +cpuset +pids" >/sys/fs/cgroup/cgroup.subtree_control
for m in llc stp bridge veth overlay; do [ -e /modules/\$m.ko ] && insmod /modules/\$m.ko; done
echo "MINIBOX-VM: kernel \$(uname -r), /sys/fs/cgroup magic 0x\$(stat -f -c %t /sys/fs/cgroup) (cgroup2 = 0x63677270), controllers: \$(cat /sys/fs/cgroup/cgroup.subtree_control)"
cd /tmp
$build/tests/step05_unit_test --gtest_color=no 2>&1
echo "MINIBOX-VM-RESULT unit \$?"
$build/tests/step05_integration_test --gtest_color=no 2>&1
echo "MINIBOX-VM-RESULT integration \$?"
poweroff -f
INIT
chmod +x "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1 >"$work/initrd.gz")

log=$work/console.log
timeout 540 "$qemu" -accel tcg -cpu max -smp 2 -m 1536 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet" >"$log" 2>&1 || true
tr -d '\r' <"$log" | grep -E "MINIBOX-VM|^\[ *(OK|FAILED|PASSED|SKIPPED) |Failure|Expected|Which is|actual|tests ran" || true
grep -q "MINIBOX-VM-RESULT unit 0" "$log" && grep -q "MINIBOX-VM-RESULT integration 0" "$log" && {
    echo "vm test: step05 tests passed on $kv (cgroup v2)"
    exit 0
}
echo "vm test: failed; the console's last lines:"
tr -d '\r' <"$log" | tail -30
exit 1
