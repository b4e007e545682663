#!/bin/sh
# Make a docker-archive (what `docker save` writes) from a root filesystem, offline:
#   make-archive.sh ROOTFS OUT.tar [NAME:TAG]      (NAME:TAG defaults to busybox:latest)
# `docker load`, `podman load` and `ctr images import` all read this format. It is written by
# hand (one uncompressed layer, its sha256 as the diff_id, a config, manifest.json) rather than
# with skopeo: skopeo copy writes a blob-info cache to /var/lib/containers/cache on the host.
set -eu
rootfs=$1 out=$2 ref=${3:-busybox:latest}
[ -x "$rootfs/bin/sh" ] || { echo "make-archive: $rootfs/bin/sh missing" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/mbxa.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The layer: the whole tree, owners as they are (root), numeric ids, no leading "./".
tar --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir "$work/$layer"
mv "$work/layer.tar" "$work/$layer/layer.tar"

created=1970-01-01T00:00:00Z
cat > "$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"$created",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$layer"]},
 "history":[{"created":"$created","created_by":"tests/step07/clients/make-archive.sh"}]}
JSON
config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/$config.json"

name=${ref%:*} tag=${ref##*:}
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$config" "$ref" "$layer" > "$work/manifest.json"
printf '{"%s":{"%s":"%s"}}\n' "$name" "$tag" "$layer" > "$work/repositories"

tar -C "$work" -cf "$out" manifest.json repositories "$config.json" "$layer"
