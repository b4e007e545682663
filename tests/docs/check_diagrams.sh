#!/bin/sh
# check_diagrams.sh DOT DIR: every DIR/*.dot has a DIR/*.svg that is exactly `DOT -Tsvg` of it,
# and every SVG has its source. Fails naming each diagram that is stale or missing.
dot=$1 dir=$2 failed=0 n=0
for src in "$dir"/*.dot; do
    n=$((n + 1))
    svg=${src%.dot}.svg
    if [ ! -f "$svg" ]; then echo "missing: $svg (render it: cmake --build build --target diagrams)"; failed=1; continue; fi
    if ! "$dot" -Tsvg "$src" | cmp -s - "$svg"; then
        echo "stale: $svg is not the rendering of $src (cmake --build build --target diagrams)"; failed=1
    fi
done
for svg in "$dir"/*.svg; do
    [ -f "${svg%.svg}.dot" ] || { echo "no source: $svg has no ${svg%.svg}.dot"; failed=1; }
done
[ "$n" -gt 0 ] || { echo "no diagrams in $dir"; exit 1; }
[ "$failed" = 0 ] && echo "$n diagrams, each the rendering of its source"
exit $failed
