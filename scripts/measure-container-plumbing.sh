#!/usr/bin/env bash
# Measures what container plumbing reads under /proc/sys/net, under the real `tripline watch`
# (root, eBPF): podman (runc, netavark and CNI backends), docker.io and kube-proxy-style sysctl
# writes. The table in docs/recipes/os_network_fingerprint.md, "Container plumbing", comes from it.
#
# Usage (root, from anywhere): scripts/measure-container-plumbing.sh [RUNS] [SCENARIO...]
#   RUNS defaults to 5; scenarios default to all that can run here (see `scenarios` below).
# Needs: podman runc busybox-static containernetworking-plugins iptables (apt-get install -y ...);
# docker.io only for the docker scenarios (skipped when no dockerd answers on /usr/bin/docker;
# Debian's docker.io 20.10 started here with a plain `dockerd &`: overlay2, cgroupfs, iptables). No registry: the
# image is a static busybox root filesystem imported as localhost/plumbing-test:1.
#
# For each scenario it starts one `tripline watch` with the built-in recipe and a probe recipe
# (plumbing_probe: the same match rules, one process per subject, threshold 1, no exceptions),
# runs the scenario RUNS times, stops watch and prints:
#   - every os_network_fingerprint detection (subject, exe, parent, directories): what fires;
#   - per executable and parent, the directories each process read (min-max over the runs):
#     what the plumbing reads whether it fires or not.
# Results stay in $OUT (default /tmp/tripline-plumbing) as one JSONL file per scenario.
set -euo pipefail

RUNS=${1:-5}
shift || true
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/tripline-plumbing}
IMAGE=localhost/plumbing-test:1
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

[ "$(id -u)" = 0 ] || { echo "measure-container-plumbing: needs root (tripline watch, podman)" >&2; exit 1; }
for tool in podman runc; do command -v "$tool" >/dev/null || { echo "measure-container-plumbing: $tool is missing" >&2; exit 1; }; done
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" | grep -q 'statically linked' || { echo "measure-container-plumbing: $BUSYBOX is not static (apt-get install -y busybox-static)" >&2; exit 1; }
[ -f "$ROOT/dist/cli/main.js" ] || (cd "$ROOT" && npx tsc -p tsconfig.build.json)

# The root directory and the files in it must be root's and not group/other-writable: watch
# runs as root and obeys only such files.
umask 022
rm -rf "$OUT" && mkdir -p "$OUT/recipes"

# --- the image: static busybox and its applet links ---------------------------------------
rootfs="$OUT/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/etc" "$rootfs/tmp"
cp "$BUSYBOX" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"; done
tar -C "$rootfs" -cf "$OUT/rootfs.tar" .
"${PODMAN[@]}" image exists "$IMAGE" || "${PODMAN[@]}" import -q "$OUT/rootfs.tar" "$IMAGE" >/dev/null
# Debian's client (docker.io), not whatever `docker` comes first in PATH.
docker() { /usr/bin/docker "$@"; }
have_docker=false
if [ -x /usr/bin/docker ] && timeout 10 docker info >/dev/null 2>&1; then
  have_docker=true
  docker image inspect "$IMAGE" >/dev/null 2>&1 || docker import "$OUT/rootfs.tar" "$IMAGE" >/dev/null
fi

# --- the probe recipe: the built-in's match rules, per process, threshold 1, no exceptions ---
node --input-type=module -e '
  import { readFileSync, writeFileSync } from "node:fs";
  import { createRequire } from "node:module";
  const require = createRequire(process.argv[1] + "/");
  const YAML = require("yaml");
  const r = YAML.parse(readFileSync(process.argv[1] + "/recipes/builtin/os_network_fingerprint.yaml", "utf8"));
  r.id = "plumbing_probe";
  r.name = "plumbing probe (every process that reads under /proc/sys/net)";
  r.aggregate = { ...r.aggregate, threshold: 1, scopes: [{ scope: "process", window: "60s" }] };
  delete r.exceptions;
  writeFileSync(process.argv[2], YAML.stringify(r));
' "$ROOT" "$OUT/recipes/plumbing_probe.yaml"
printf 'recipes:\n  directories: [recipes]\n' > "$OUT/tripline.yaml"

# --- scenarios --------------------------------------------------------------------------------
podman_run_default() { "${PODMAN[@]}" run --rm "${LIMITS[@]}" "$IMAGE" true; }
podman_run_bridge_publish() { "${PODMAN[@]}" run --rm "${LIMITS[@]}" --network bridge -p 8080:80 "$IMAGE" true; }
podman_start_stop() {
  "${PODMAN[@]}" run -d --name plumbing-ss "${LIMITS[@]}" --network bridge -p 8081:80 "$IMAGE" sleep 60 >/dev/null
  "${PODMAN[@]}" stop -t 0 plumbing-ss >/dev/null
  "${PODMAN[@]}" start plumbing-ss >/dev/null
  "${PODMAN[@]}" stop -t 0 plumbing-ss >/dev/null
  "${PODMAN[@]}" rm plumbing-ss >/dev/null
}
podman_cni_publish() { "${PODMAN[@]}" --network-backend cni run --rm "${LIMITS[@]}" --network bridge -p 8082:80 "$IMAGE" true; }
docker_run_default() { docker run --rm "$IMAGE" true; }
docker_run_publish() { docker run --rm -p 8083:80 "$IMAGE" true; }
docker_start_stop() {
  docker run -d --name plumbing-ss -p 8084:80 "$IMAGE" sleep 60 >/dev/null
  docker stop -t 0 plumbing-ss >/dev/null
  docker start plumbing-ss >/dev/null
  docker stop -t 0 plumbing-ss >/dev/null
  docker rm plumbing-ss >/dev/null
}
kube_proxy_style() {
  sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.route_localnet=1
  sysctl -q -w net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 2>/dev/null || true
  sysctl -q -w net.netfilter.nf_conntrack_max=131072 2>/dev/null || true
  iptables -w -t nat -N PLUMBING-SVC 2>/dev/null || true
  iptables -w -t nat -A PLUMBING-SVC -d 10.96.0.1/32 -p tcp --dport 443 -j DNAT --to-destination 127.0.0.1:6443
  iptables-save -t nat >/dev/null
  iptables -w -t nat -F PLUMBING-SVC && iptables -w -t nat -X PLUMBING-SVC
}
# The controls: a container's own `sysctl -a` must fire, attributed to it; a server in a
# container reading one setting (as redis reads core/somaxconn) must not.
podman_sysctl_inside() { "${PODMAN[@]}" run --rm "${LIMITS[@]}" "$IMAGE" busybox sysctl -a >/dev/null 2>&1 || true; }
podman_one_setting_inside() { "${PODMAN[@]}" run --rm "${LIMITS[@]}" -p 8085:80 "$IMAGE" cat /proc/sys/net/core/somaxconn >/dev/null; }
docker_sysctl_inside() { docker run --rm "$IMAGE" busybox sysctl -a >/dev/null 2>&1 || true; }

scenarios=(podman_run_default podman_run_bridge_publish podman_start_stop podman_cni_publish kube_proxy_style podman_sysctl_inside podman_one_setting_inside)
$have_docker && scenarios+=(docker_run_default docker_run_publish docker_start_stop docker_sysctl_inside)
[ $# -gt 0 ] && scenarios=("$@")

# --- one watch per scenario -------------------------------------------------------------------
summarize() {
  node --input-type=module -e '
    import { readFileSync } from "node:fs";
    const lines = readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const who = (d) => `${d.subject.process.exe} (parent ${d.subject.ancestry[0]?.exe ?? "?"}, uid ${d.subject.process.uid})`;
    for (const d of lines.filter((x) => x.recipe.id === "os_network_fingerprint"))
      console.log(`  FIRES  ${d.subject.scope} pid ${d.subject.process.pid} ${who(d)}: ${d.evidence.directoryCount} dirs; argv ${JSON.stringify(d.subject.process.argv).slice(0, 160)}`);
    const per = new Map();
    for (const d of lines.filter((x) => x.recipe.id === "plumbing_probe")) {
      const k = who(d);
      const e = per.get(k) ?? { n: 0, counts: [], dirs: new Set(), argv: new Set() };
      e.n++; e.counts.push(d.evidence.directoryCount); d.evidence.directories.forEach((x) => e.dirs.add(x.replace("/proc/sys/net/", "")));
      e.argv.add(d.subject.process.argv.slice(0, 6).join(" "));
      per.set(k, e);
    }
    for (const [k, e] of per) console.log(`  reads  ${k}: ${e.n} process(es), ${Math.min(...e.counts)}-${Math.max(...e.counts)} dirs [${[...e.dirs].join(" ")}] argv: ${[...e.argv].slice(0, 3).join(" | ")}`);
    if (lines.length === 0) console.log("  nothing read under /proc/sys/net");
  ' "$1"
}

for scenario in "${scenarios[@]}"; do
  jsonl="$OUT/$scenario.jsonl"
  : > "$jsonl"
  node "$ROOT/bin/tripline.js" watch --config "$OUT/tripline.yaml" --jsonl "$jsonl" --quiet --health-interval 0 2> "$OUT/$scenario.err" &
  watch_pid=$!
  for _ in $(seq 1 600); do grep -q 'watching every process' "$OUT/$scenario.err" && break; kill -0 "$watch_pid" 2>/dev/null || break; sleep 0.2; done
  grep -q 'watching every process' "$OUT/$scenario.err" || { cat "$OUT/$scenario.err" >&2; exit 1; }
  for run in $(seq 1 "$RUNS"); do "$scenario" || echo "  ($scenario run $run failed: $?)"; done
  kill -INT "$watch_pid"
  wait "$watch_pid" || true
  echo "$scenario ($RUNS runs):"
  summarize "$jsonl"
done
echo "versions: $(podman --version); $(runc --version | head -1); $(dpkg-query -W -f '${Package} ${Version}; ' netavark containernetworking-plugins iptables procps docker.io containerd 2>/dev/null)"
