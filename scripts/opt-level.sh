#!/usr/bin/env bash
# Chooses the release opt-level by measurement: builds the static musl binary and the in-process
# ingest benchmark at opt-level s, z and 3 (separate target dirs, so the shipped build is left
# alone) and prints size and ingest speed for each. Slow (six LTO builds); run by hand when the
# dependencies or the decoder change, and record the result in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CC_x86_64_unknown_linux_musl=musl-gcc
cargo build --quiet --profile fast -p kube-sim
for level in s z 3; do
  dir="target/opt-level-$level"
  CARGO_TARGET_DIR=$dir CARGO_PROFILE_RELEASE_OPT_LEVEL=$level \
    cargo build --quiet --release --locked --target x86_64-unknown-linux-musl --bin kube-cluster-binpacking-exporter
  size=$(stat -c %s "$dir/x86_64-unknown-linux-musl/release/kube-cluster-binpacking-exporter")
  ingest=$(CARGO_TARGET_DIR=$dir CARGO_PROFILE_RELEASE_OPT_LEVEL=$level CARGO_PROFILE_BENCH_OPT_LEVEL=$level \
    cargo bench --quiet --target x86_64-unknown-linux-musl --bench ingest -- 15000 2>/dev/null | grep -E "ours|floor|ratio" | tr -s ' ' | tr '\n' ';')
  echo "opt-level=$level size=$size bytes; $ingest"
done
