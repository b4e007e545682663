#!/bin/sh
# Make the default image: a root filesystem built offline from the static busybox of Debian's
# busybox-static package, plus the project's nsinfo probe.
#
#   scripts/make-image.sh [NSINFO]
#
# Result: $MINIBOX_ROOT/images/busybox/rootfs (MINIBOX_ROOT defaults to /var/lib/minibox).
# Safe to run again: the image is built aside and swapped in whole.
set -eu

root=${MINIBOX_ROOT:-/var/lib/minibox}
nsinfo=${1:-$(dirname "$0")/../build/bin/nsinfo}
busybox=/bin/busybox
image=$root/images/busybox

# Debian's busybox-static installs /bin/busybox; the dynamic "busybox" package does too, and that
# one would not run inside a root without libc. Insist on a static binary.
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked' && ! ldd "$busybox" 2>&1 | grep -q 'not a dynamic'; then
    echo "make-image: $busybox is not statically linked; install busybox-static" >&2
    exit 1
fi

mkdir -p "$root/images"
tmp=$(mktemp -d "$root/images/.busybox.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fs=$tmp/rootfs
mkdir -p "$fs/bin" "$fs/sbin" "$fs/usr/bin" "$fs/usr/sbin" "$fs/etc" "$fs/root" \
         "$fs/proc" "$fs/sys" "$fs/dev" "$fs/tmp" "$fs/var" "$fs/home"
chmod 1777 "$fs/tmp"
cp "$busybox" "$fs/bin/busybox"

# One relative symlink per applet, where busybox itself would install it.
"$busybox" --list-full | while read -r applet; do
    case "$applet" in
        bin/busybox) ;;
        bin/*)      ln -sf busybox "$fs/$applet" ;;
        sbin/*)     ln -sf ../bin/busybox "$fs/$applet" ;;
        usr/bin/*|usr/sbin/*) ln -sf ../../bin/busybox "$fs/$applet" ;;
    esac
done

cat > "$fs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$fs/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
cat > "$fs/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
HOSTS
echo minibox > "$fs/etc/hostname"

if [ -x "$nsinfo" ]; then
    cp "$nsinfo" "$fs/bin/nsinfo"
else
    echo "make-image: warning: no nsinfo at $nsinfo (build first); the image has no probe" >&2
fi

rm -rf "$image.old"
[ -d "$image" ] && mv "$image" "$image.old"
mv "$tmp" "$image"
rm -rf "$image.old"
trap - EXIT
echo "make-image: $image/rootfs ($(du -sh "$image/rootfs" | cut -f1))"
