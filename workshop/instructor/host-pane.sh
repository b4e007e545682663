#!/bin/bash
# The host pane of a demo (the right half of the tmux layout): runs every command that --step
# prints, the moment it prints it, so the audience sees the host before and after each
# operation without anyone typing.
#
#   host-pane.sh FEED
#
# The tool writes FEED when it runs with MINIBOX_HOST_PANE=FEED (common/narrate.cpp): one line
# per command, "before|after<TAB>layer<TAB>call<TAB>command<TAB>what it should show". The
# commands are already right for where the tool runs (pids filled in, `ip netns exec lab04`
# added in a lab namespace).
set -u
feed=${1:?usage: host-pane.sh FEED}
lines=${HOST_PANE_LINES:-12}
: > "$feed"
printf 'host pane: waiting for --step (feed %s)\n' "$feed"
tail -n0 -F "$feed" 2>/dev/null | while IFS=$'\t' read -r when layer call cmd comment; do
    if [ "$when" = before ]; then
        printf '\n\033[1;34m-- before %s\033[0m\n' "$call"
    else
        printf '\n\033[1;32m-- after %s\033[0m%s\n' "$call" "${comment:+   (expect: $comment)}"
    fi
    printf '$ %s\n' "$cmd"
    bash -c "$cmd" 2>&1 | head -n "$lines"
done
