#!/usr/bin/env bash
# Builds the fully static musl release binary for ARCH (x86_64 or aarch64) and checks that it is
# statically linked. Installs the Rust target and the C cross compiler ring needs when missing.
set -euo pipefail
arch=${1:-x86_64}
case "$arch" in
  x86_64|aarch64) ;;
  *) echo "unsupported ARCH=$arch (x86_64 or aarch64)" >&2; exit 2 ;;
esac
target="$arch-unknown-linux-musl"
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

apt_install() {
  [ "$(id -u)" = 0 ] || { echo "missing $*; install it (apt-get install $*)" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
command -v file >/dev/null || apt_install file
if [ "$arch" = x86_64 ]; then
  command -v musl-gcc >/dev/null || apt_install musl-tools
  export CC_x86_64_unknown_linux_musl=musl-gcc
else
  command -v aarch64-linux-gnu-gcc >/dev/null && [ -e /usr/aarch64-linux-gnu/include/stdint.h ] \
    || apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld
fi

cargo build --release --locked --target "$target" --bin kube-cluster-binpacking-exporter
bin="target/$target/release/kube-cluster-binpacking-exporter"
desc=$(file -b "$bin")
echo "$bin: $desc"
echo "$bin: $(stat -c %s "$bin") bytes"
case "$desc" in
  *"statically linked"*) ;;
  *) echo "error: $bin is not statically linked" >&2; exit 1 ;;
esac
