#!/bin/bash
# A chapter's live demo in tmux: the container on the left, the host on the right.
#
#   demo.sh CHAPTER [N]     open (or reuse) the session "minibox-demo" and type demo command N
#                           (default 1) of CHAPTER (01..06) into the left pane; press Enter there
#   demo.sh --list CHAPTER  print the chapter's demo commands, one per line
#
# The left pane runs the tool with --step=LAYER (pauses only in the chapter's layer, the rest is
# explained); the right pane runs host-pane.sh, which executes each "before" command at a pause
# and each "after" command once the operation ran. Every command is typed, not run: say what
# will happen, then press Enter. Run as root from the top of the checkout; reset.sh first.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${MINIBOX_BIN:-$top/build/bin}
session=minibox-demo
# Tests run their own tmux server and feed: MINIBOX_DEMO_SOCKET (tmux -L), MINIBOX_DEMO_FEED.
tmux() { command tmux ${MINIBOX_DEMO_SOCKET:+-L "$MINIBOX_DEMO_SOCKET"} "$@"; }

commands() {
    case "$1" in
    01) cat <<'C'
step01_uts --step --hostname box sh
step01_uts --step=uts --hostname box sh -c 'hostname; sleep 30'
C
    ;;
    02) cat <<'C'
step02_pid --step=pid --init sh
step02_pid --step=launch sh -c 'echo "I am $$"; ps'
C
    ;;
    03) cat <<'C'
step03_mnt --step=mnt -- sh
step03_mnt --step=mnt --read-only -v /tmp:/data:ro -- sh
C
    ;;
    04) cat <<'C'
ip netns exec lab04 step04_net --step=net --hostname web -- sh
ip netns exec lab04 step04_net --step=net -p 8080:80 -- httpd -f -p 80 -h /etc
C
    ;;
    05) cat <<'C'
step05_cgroups --network none --step=cgroup -m 64m --pids-limit 20 -- sh
step05_cgroups --network none --step=cgroup --cpus 0.5 -- sh -c 'while :; do :; done'
C
    ;;
    06) cat <<'C'
step06_overlay run --step=overlay --network none busybox -- sh
step06_overlay run --step=overlay --keep --network none busybox -- sh -c 'echo hi > /root/new'
C
    ;;
    *) echo "demo.sh: no demo for chapter $1 (01..06)" >&2; return 2 ;;
    esac
}

if [ "${1:-}" = --list ]; then
    commands "${2:?usage: demo.sh --list CHAPTER}"
    exit
fi
chapter=${1:?usage: demo.sh CHAPTER [N] | --list CHAPTER}
n=${2:-1}
cmd=$(commands "$chapter" | sed -n "${n}p")
[ -n "$cmd" ] || { echo "demo.sh: chapter $chapter has no demo $n" >&2; exit 2; }

feed=${MINIBOX_DEMO_FEED:-/tmp/minibox-demo.feed}
if ! tmux has-session -t "$session" 2>/dev/null; then
    work=$(mktemp -d /tmp/minibox-demo.XXXXXX)
    tmux new-session -d -s "$session" -x 200 -y 50 -c "$work"
    tmux send-keys -t "$session:0.0" "export PATH=$bin:\$PATH MINIBOX_HOST_PANE=$feed; cd $work; clear" Enter
    tmux split-window -h -t "$session:0.0" -c "$work" "$here/host-pane.sh $feed; read"
    tmux select-pane -t "$session:0.0"
fi
if [ "$chapter" = 04 ] && ! ip netns list | grep -qw lab04; then
    ip netns add lab04
    ip netns exec lab04 ip link set lo up
    ip netns exec lab04 sysctl -qw net.ipv4.ip_forward=0
fi
tmux send-keys -t "$session:0.0" -l "$cmd"
[ -n "${TMUX:-}${MINIBOX_DEMO_NO_ATTACH:-}" ] || exec tmux attach -t "$session"  # MINIBOX_DEMO_NO_ATTACH: for tests
