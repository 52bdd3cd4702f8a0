#!/usr/bin/env bash
# Builds a local stand-in for the public base image (node:20-bookworm-slim) on a machine without
# container registry access: a Debian bookworm minbase root filesystem from an apt mirror
# (debootstrap), with this host's Node.js (20 or later) and npm put where the official node
# images have them (/usr/local/bin, /usr/local/lib/node_modules), imported into podman.
#
#   deploy/container/build-local-base.sh [IMAGE]     (default localhost/tripline-base:bookworm)
#
# Then: podman build --build-arg BASE=IMAGE -f deploy/container/Containerfile CONTEXT
# The image is kept: run again only to refresh it (`podman image rm IMAGE` first).
set -euo pipefail

image="${1:-localhost/tripline-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

node_bin="$(readlink -f "$(command -v node)")"
node_major="$("$node_bin" -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "build-local-base: this host's node is $("$node_bin" --version); Tripline needs 20 or later" >&2
  exit 1
fi
npm_dir=""
for d in /usr/lib/node_modules/npm /usr/local/lib/node_modules/npm; do
  if [ -f "$d/bin/npm-cli.js" ]; then npm_dir="$d"; break; fi
done
if [ -z "$npm_dir" ]; then
  echo "build-local-base: npm not found in /usr/lib/node_modules or /usr/local/lib/node_modules" >&2
  exit 1
fi

work="$(mktemp -d /var/tmp/tripline-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

# libstdc++6 for node; ca-certificates so npm and apt can use https in the image build.
debootstrap --variant=minbase --include=libstdc++6,ca-certificates bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}
install -o root -g root -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
chown -R root:root "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
# What the slim images drop: apt lists and caches.
rm -rf "$rootfs/var/lib/apt/lists/"* "$rootfs/var/cache/apt/archives/"*.deb

tar -C "$rootfs" -cf "$work/rootfs.tar" .
podman import --change 'CMD ["node"]' "$work/rootfs.tar" "$image" >/dev/null
echo "$image"
