#!/usr/bin/env bash
# Builds Tripline's compiled eBPF sensor from src/sensors/compiled/ with Debian's toolchain
# (clang, libbpf-dev, bpftool, libelf-dev, zlib1g-dev, libzstd-dev):
#   1. vmlinux.h from this kernel's BTF (CO-RE: the object relocates on other kernels with BTF);
#   2. tripline.bpf.o (the tracepoint tier) and tripline-hooks.bpf.o (the security-hook tier,
#      probed at every start) with clang -target bpf; both include tripline-shared.bpf.h;
#   3. a skeleton embedding each object, and a statically linked loader;
#   4. sensor/<arch>/tripline-sensor, and sensor/SOURCES.sha256: the hash of the sources it was
#      built from (a test fails when the sources change without a rebuild).
# Usage: npm run build:sensor   (x86_64 only: the syscall tables in the program are x86_64's)
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(uname -m)
if [ "$arch" != x86_64 ]; then
  echo "build-sensor: only x86_64 is supported (this is $arch)" >&2
  exit 1
fi
for tool in clang bpftool cc; do
  command -v "$tool" >/dev/null || { echo "build-sensor: $tool is missing: apt-get install -y clang bpftool libbpf-dev libelf-dev zlib1g-dev libzstd-dev" >&2; exit 1; }
done
[ -f /usr/include/bpf/libbpf.h ] || { echo "build-sensor: libbpf-dev is missing" >&2; exit 1; }
[ -r /sys/kernel/btf/vmlinux ] || { echo "build-sensor: this kernel has no BTF (/sys/kernel/btf/vmlinux)" >&2; exit 1; }

src=src/sensors/compiled
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$work/vmlinux.h"
cp "$src/tripline.bpf.c" "$src/tripline-hooks.bpf.c" "$src/tripline-shared.bpf.h" "$src/tripline-records.h" "$src/loader.c" "$work/"
( cd "$work"
  for obj in tripline tripline-hooks; do
    # The temporary directory must not reach the binary (BTF names source files): builds are reproducible.
    clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -ffile-prefix-map="$work"=/tripline -I. -c "$obj.bpf.c" -o "$obj.bpf.o"
    # Debug info is for the verifier's messages; the shipped object keeps BTF and drops DWARF.
    llvm-strip -g "$obj.bpf.o" 2>/dev/null || true
    bpftool gen skeleton "$obj.bpf.o" name "${obj//-/_}_bpf" > "$obj.skel.h"
  done
  cc -O2 -Wall -Wextra -static -pthread -ffile-prefix-map="$work"=/tripline -I. loader.c -o tripline-sensor -lbpf -lelf -lz -lzstd
  strip tripline-sensor )
mkdir -p "sensor/$arch"
install -m 0755 "$work/tripline-sensor" "sensor/$arch/tripline-sensor"
node scripts/sensor-sources-hash.js > sensor/SOURCES.sha256
echo "build-sensor: sensor/$arch/tripline-sensor ($(stat -c %s "sensor/$arch/tripline-sensor") bytes), sources $(cat sensor/SOURCES.sha256)"
