// The text of `tripline --help` and of each command's help.

export const MAIN_HELP = `tripline — catches processes fingerprinting this host's network configuration

Usage:
  tripline run [options] -- COMMAND [ARGS...]   run a command under a sensor (ptrace or eBPF)
  tripline watch [options]                      watch every process on the host (eBPF, root)
  tripline demo                                 run a built-in script that triggers a real detection
  tripline --help | --version

What it detects: os_network_fingerprint (Discovery TA0007, System Information
Discovery T1082, importance low): a process, or a script and the commands it
starts, exploring several directories of /proc/sys/net. Every detection says who
did it, exactly what was touched, and what to do about it in CI, staging or
production.

Run 'tripline run --help' or 'tripline watch --help' for their options.`;

export const RUN_HELP = `Usage: tripline run [options] -- COMMAND [ARGS...]

Runs COMMAND under a sensor, with its stdin, stdout and stderr untouched: strace
(ptrace, no root needed) or bpftrace (eBPF, root; far less overhead per call, about
4 s to attach and detach). Prints a one-line notice on stderr when a detection is
made and a full report on stderr when the command (and everything it started) has
ended.

Options:
  --jsonl FILE           write each detection as one JSON line (tripline.detection/v1)
  --fail-on LEVEL        exit 77 if a detection of importance LEVEL or higher was made:
                         never (default), low, medium, high, critical
  --environment KIND     ci, staging, production, development or unknown; decides the
                         guidance shown (default: TRIPLINE_ENVIRONMENT, else ci when CI
                         variables are set, else unknown)
  --sensor SENSOR        auto (default: ebpf when root and bpftrace work, else ptrace),
                         ptrace or ebpf
  --quiet                no live notices and no full report; one summary line instead
  -h, --help             this help

Exit status: COMMAND's own (128+N if signal N ended it); 127 if COMMAND is not found,
126 if it cannot be executed; 77 when --fail-on matched; 64 for a bad command line;
69 when the sensor is missing, cannot trace, or died.

Note: like strace -f, run waits until every process COMMAND started has exited,
including ones left in the background.`;

export const WATCH_HELP = `Usage: tripline watch [--jsonl FILE] [--environment KIND] [--quiet]

Watches every process on the host with the eBPF sensor (bpftrace; needs root) until
SIGINT or SIGTERM. Prints a notice on stderr the moment a detection is made and the
full detection when it is final (a window passed without new evidence, or at stop).

Options:
  --jsonl FILE           append each final detection as one JSON line (tripline.detection/v1)
  --environment KIND     ci, staging, production, development or unknown (guidance)
  --quiet                notices only, no full detections on stderr
  -h, --help             this help

If bpftrace dies it is restarted with backoff and the gap is reported. Events lost
by bpftrace (buffer overflow) are counted and reported.`;
