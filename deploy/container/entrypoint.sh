#!/bin/sh
# Entry point of the Tripline image: runs `tripline watch` and puts each detection revision on
# stdout as one JSON line (tripline.detection/v1: the open one at once, then updates and the
# closed one with the same id; pass --jsonl-final-only for the closed one only) for the
# cluster's log pipeline; notices and health lines stay on stderr.
#
# Tripline writes JSON Lines only to a regular file (never through /dev/stdout, a pipe or a
# FIFO: see docs/outputs.md), so the detections go to a file in a directory of this container's
# own (TRIPLINE_OUTPUT_DIR, a memory volume under Kubernetes: the root filesystem is read-only)
# and `tail` relays that file to stdout. SIGTERM and SIGINT go to tripline, which reports every
# open detection before it exits; tail reads the file one last time once tripline has ended.
# SIGHUP goes to tripline too (reload). Arguments are passed to `tripline watch`.
set -eu

dir="${TRIPLINE_OUTPUT_DIR:-/run/tripline}"
# Made here, root's only: the volume itself may be world-writable (an emptyDir is 0777).
out_dir="$dir/out"
mkdir -p "$out_dir"
chmod 0700 "$out_dir"
out="$out_dir/detections.jsonl"
# Each start relays its own detections: what a previous run wrote was relayed by it.
rm -f "$out"

# tripline's stdout goes to stderr (it writes nothing there under watch): node makes a pipe it
# writes to non-blocking, and on the pipe tail shares, tail's writes would then fail (EAGAIN)
# as soon as the log reader fell 64 KiB behind.
node /usr/local/lib/node_modules/tripline/bin/tripline.js watch --quiet --jsonl "$out" "$@" </dev/null >&2 &
watch_pid=$!
trap 'kill -TERM "$watch_pid" 2>/dev/null || true' TERM INT
trap 'kill -HUP "$watch_pid" 2>/dev/null || true' HUP

# -F: the file appears once tripline has checked its outputs; --pid: a last read, then exit,
# once tripline has ended.
tail -n +1 -F --pid="$watch_pid" "$out" 2>/dev/null &
tail_pid=$!

# wait returns early when a trapped signal arrives: wait again until tripline has ended (kill -0
# still succeeds on it until wait has collected its status).
status=0
while kill -0 "$watch_pid" 2>/dev/null; do
  if wait "$watch_pid"; then status=0; else status=$?; fi
done
wait "$tail_pid" || true
exit "$status"
