#!/bin/bash
# Before a class (or between two groups): the machine as a learner finds it after 00-setup.
#
#   reset.sh          as root, from anywhere in the checkout
#
# - the demo's tmux session is closed, and the lab namespaces of chapter 04 are deleted;
# - every bridge minibox made (alias "minibox") is removed with its nft table and state, by the
#   tool itself (step04_net --remove-bridge refuses anything that is not ours);
# - minibox cleanup --remove takes what dead containers left (mounts, cgroups, leases, kept
#   step06 containers, state of deleted namespaces);
# - the default image is made again (scripts/make-image.sh), so no chapter's leftovers stay in it;
# - a fresh, empty directory is printed: run the chapters' commands there.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${MINIBOX_BIN:-$top/build/bin}
[ "$(id -u)" = 0 ] || { echo "reset.sh: run as root" >&2; exit 1; }

tmux kill-session -t minibox-demo 2>/dev/null || true
for ns in $(ip netns list | awk '{print $1}' | grep -E '^lab[0-9]+$' || true); do
    ip netns del "$ns" && echo "deleted network namespace $ns"
done
for dev in /sys/class/net/*; do
    name=${dev##*/}
    [ -d "$dev/bridge" ] && [ "$(cat "$dev/ifalias" 2>/dev/null)" = minibox ] || continue
    "$bin/step04_net" --bridge "$name" --remove-bridge
done
"$bin/minibox" cleanup --remove
"$top/scripts/make-image.sh" "$bin/nsinfo" >/dev/null && echo "default image made again"
work=$(mktemp -d /tmp/minibox-class.XXXXXX)
echo "fresh directory: cd $work"
