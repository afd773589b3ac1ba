#!/usr/bin/env bash
# Packs exactly what Dockerfile.scratch's final stage holds (the static binary at
# /kube-cluster-binpacking-exporter, owned by 65532) into a tar layer and prints its raw and gzip
# sizes. Fails when the uncompressed layer (the whole image: scratch adds nothing) reaches 10 MB.
set -euo pipefail
arch=${1:-x86_64}
bin="target/$arch-unknown-linux-musl/release/kube-cluster-binpacking-exporter"
[ -x "$bin" ] || { echo "missing $bin: run 'make static ARCH=$arch' first" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"
cp "$bin" "$work/root/kube-cluster-binpacking-exporter"
tar --owner=65532 --group=65532 --numeric-owner --mtime=@0 --sort=name \
  -C "$work/root" -cf "$work/layer.tar" kube-cluster-binpacking-exporter
gzip -9 -n -c "$work/layer.tar" >"$work/layer.tar.gz"
raw=$(stat -c %s "$work/layer.tar"); gz=$(stat -c %s "$work/layer.tar.gz")
awk -v a="$arch" -v r="$raw" -v g="$gz" \
  'BEGIN { printf "image layer (%s): raw %d bytes (%.2f MB), gzip %d bytes (%.2f MB)\n", a, r, r / 1e6, g, g / 1e6 }'
limit=10000000
if [ "$raw" -ge "$limit" ]; then
  echo "error: the image is over 10 MB uncompressed" >&2; exit 1
fi
