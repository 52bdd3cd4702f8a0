import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PROJECT_URL } from '../model/tripline-project.ts';

// The text of `tripline --help` and of each command's and subcommand's help (printed on stdout
// by --help and -h; the main help also on stderr when no command is given).

export const MAIN_HELP = `tripline — catches processes fingerprinting this host's network configuration

Usage:
  tripline run [options] -- COMMAND [ARGS...]   run a command under a sensor (ptrace or eBPF)
  tripline watch [options]                      watch every process on the host (eBPF, root)
  tripline demo                                 run a built-in script that triggers a real detection
  tripline recipes list|show|validate|explain   read, check and understand the recipes
  tripline config show                          the effective configuration and where each value came from
  tripline report [options] FILE.jsonl...       send recorded detections to SARIF, JUnit, GitHub, webhook
  tripline detections list|show|export|stats    the detection history run and watch record; prune
  tripline serve [options]                      a web dashboard of the stored detections (loopback)
  tripline completion bash|zsh                  a shell completion script
  tripline help [COMMAND] | --help | --version

What it detects: os_network_fingerprint (Discovery TA0007, System Information
Discovery T1082, importance low): a process, or a script and the commands it
starts, exploring several directories of /proc/sys/net. Every detection says who
did it, exactly what was touched, and what to do about it in CI, staging or
production.

Configuration: tripline.yaml (--config FILE, TRIPLINE_CONFIG, ./tripline.yaml or
/etc/tripline/config.yaml); TRIPLINE_* variables override it, flags override both.
Exit status 78 when the configuration file has errors.

Every command answers --help (-h). Documentation: ${PROJECT_URL}`;

export const RUN_HELP = `Usage: tripline run [options] -- COMMAND [ARGS...]

Runs COMMAND under a sensor, with its stdin, stdout and stderr untouched: strace
(ptrace, no root needed) or eBPF (root; Tripline's compiled sensor, or bpftrace where it
cannot load; far less overhead per call, about 0.3 s to attach). Prints a one-line
notice on stderr when a detection is made and a full report on stderr when the command
(and everything it started) has ended.

Options (each overrides TRIPLINE_* variables and the configuration file):
  --config FILE          the configuration file (default: TRIPLINE_CONFIG, ./tripline.yaml,
                         /etc/tripline/config.yaml)
  --jsonl FILE           write each detection as one JSON line (tripline.detection/v1)
                         once it is final; with TRIPLINE_JSONL_FINAL_ONLY=0 (or
                         outputs.jsonl_final_only: false) every revision as it is made
  --jsonl-final-only     one line per detection, whatever the configuration says
  --output KIND[=TARGET] also send detections to: sarif=FILE (SARIF 2.1.0, for code
                         scanning), junit=FILE (JUnit XML), webhook=URL (signed POST with
                         TRIPLINE_WEBHOOK_SECRET), github (annotations, job summary, step
                         outputs; on by default under GitHub Actions), jsonl=FILE,
                         nats=nats://HOST:4222 (every revision to NATS JetStream, from the
                         store's outbox: needs the store; credentials and TLS from files,
                         outputs.nats or TRIPLINE_NATS_*; see docs/fleet.md).
                         Repeatable. Secrets in command lines are redacted in every output.
  --fail-on LEVEL        exit 77 if a detection of importance LEVEL or higher was made:
                         never (default), low, medium, high, critical
  --environment KIND     ci, staging, production, development or unknown; decides the
                         guidance shown (default: TRIPLINE_ENVIRONMENT, else ci when CI
                         variables are set, else unknown)
  --sensor SENSOR        auto (default: ebpf when root and an eBPF program can run, else
                         ptrace), ptrace or ebpf
  --quiet                no live notices and no full report; one summary line instead
  --store PATH           the detection store (SQLite) every detection and the sensor's
                         health are recorded in (default: TRIPLINE_STORE, store.path, else
                         /var/lib/tripline/tripline.db as root, ~/.local/state/tripline/ else;
                         see tripline detections --help)
  --no-store             record nothing in the detection store
  -h, --help             this help

Exit status: COMMAND's own (128+N if signal N ended it); 127 if COMMAND is not found,
126 if it cannot be executed; 77 when --fail-on matched; 64 for a bad command line;
69 when the sensor is missing, cannot trace, or died.

Note: like strace -f, run waits until every process COMMAND started has exited,
including ones left in the background.`;

export const WATCH_HELP = `Usage: tripline watch [--config FILE] [--output KIND[=TARGET]]... [--jsonl FILE] [--jsonl-final-only] [--environment KIND] [--quiet] [--health-interval S] [--store PATH | --no-store]

Watches every process on the host with the eBPF sensor (root: Tripline's compiled
sensor, or bpftrace where it cannot load) until SIGINT or SIGTERM. Prints a notice on stderr the moment a detection is made and the
full detection when it is final (a window passed without new evidence, or at stop).

SIGHUP reloads the configuration file and every recipe: if all of it is valid, the
new set replaces the old (detections open at that moment are reported first);
otherwise the old set keeps running and the problems are logged.

Options:
  --config FILE          the configuration file (see tripline --help)
  --output KIND[=TARGET] also send detections to sarif=FILE, junit=FILE (both written at
                         stop), webhook=URL, nats=URL or github (repeatable; see tripline
                         run --help)
  --jsonl FILE           append every revision of each detection as one JSON line
                         (tripline.detection/v1): open at once, updated as the evidence grows
                         (at most once a second), closed; the same id, a growing revision
  --jsonl-final-only     only the closed revision: one line per detection
  --environment KIND     ci, staging, production, development or unknown (guidance)
  --quiet                notices only, no full detections on stderr
  --health-interval S    a health line every S seconds (default 60, 0 = none): lines/s,
                         events lost, lines that came late, gaps, pending lines
  --store PATH           the detection store: every revision of every detection, and a
                         sample of the sensor's health each minute (see tripline run --help)
  --no-store             record nothing in the detection store
  -h, --help             this help

If the sensor dies it is restarted with backoff; the gap (from the last event it
delivered) is reported, and detections of processes that lived through it say their
evidence may be incomplete. So do detections of processes live while the sensor lost
events (buffer overflow). The stop summary counts events lost, gaps and events applied
late.

Without root, use 'tripline run -- COMMAND' instead: it needs no privileges (ptrace).`;


export const RECIPES_HELP = `Usage:
  tripline recipes list [--config FILE] [--json]
  tripline recipes show ID [--config FILE] [--json]
  tripline recipes validate FILE...
  tripline recipes explain ID [--config FILE] [run options] -- COMMAND [ARGS...]

list      every loaded recipe (built-in, and from recipes.directories in the
          configuration or TRIPLINE_RECIPE_DIRS), whether it runs, and its source
show      the recipe as YAML, as the engine runs it (exceptions from the
          configuration included, each with the file and line it came from)
validate  checks recipe files against schema/recipe-v1.schema.json and what a
          schema cannot check (regexes, globs, placeholders, duplicate ids);
          prints every problem as file:line:column: error[code]: message, with
          a hint; exits 1 if there is an error
explain   runs COMMAND with only recipe ID (like tripline run) and shows, for
          each process, which accesses counted and for which directory, which
          did not and why, which exceptions applied, and why it fired or stayed
          silent. Exits with COMMAND's status.

--json prints list and show as JSON on stdout, for scripts. The recipe format is
described in ${docPath('docs/recipes/format.md')}.`;

export const RECIPES_LIST_HELP = `Usage: tripline recipes list [--config FILE] [--json]

Every loaded recipe: built-in ones and those of recipes.directories in the
configuration (or TRIPLINE_RECIPE_DIRS), whether it runs, its importance, MITRE
tactic/technique, number of exceptions, and where it came from.

Options:
  --config FILE   the configuration file (see tripline --help)
  --json          one JSON array on stdout instead of the table
  -h, --help      this help`;

export const RECIPES_SHOW_HELP = `Usage: tripline recipes show ID [--config FILE] [--json]

The recipe ID as the engine runs it, as YAML (or JSON with --json), exceptions from the
configuration included, each with the file and line it came from.

Options:
  --config FILE   the configuration file (see tripline --help)
  --json          the recipe as one JSON object on stdout
  -h, --help      this help`;

export const RECIPES_VALIDATE_HELP = `Usage: tripline recipes validate FILE...

Checks recipe files against schema/recipe-v1.schema.json and what a schema cannot
check (regexes, globs, placeholders, duplicate ids). Every problem is printed on
stderr as file:line:column: error[code]: message, with a hint; a summary line on
stdout. Exit status 1 if there is an error, 0 otherwise.

Options:
  -h, --help      this help`;

export const RECIPES_EXPLAIN_HELP = `Usage: tripline recipes explain ID [--config FILE] [run options] -- COMMAND [ARGS...]

Runs COMMAND with only recipe ID (like tripline run, whose options it takes) and shows
on stdout, for each process, which accesses counted and for which directory, which
did not and why, which exceptions applied, and why the recipe fired or stayed silent.
Writes no output files. Exit status: COMMAND's.

Options: those of tripline run (see tripline run --help).`;

export const CONFIG_HELP = `Usage: tripline config show [--config FILE] [--json]

Prints the effective configuration: each value with where it came from (a flag, a
TRIPLINE_* variable, file:line:column of the configuration file, or the default),
the recipe directories, the recipes that run, and the configured exceptions.

Variables: TRIPLINE_CONFIG, TRIPLINE_ENVIRONMENT, TRIPLINE_FAIL_ON, TRIPLINE_SENSOR,
TRIPLINE_JSONL, TRIPLINE_RECIPE_DIRS (colon-separated, added to the file's),
TRIPLINE_RECIPES_ENABLED and TRIPLINE_RECIPES_DISABLED (comma-separated).

Options:
  --config FILE   the configuration file (see tripline --help)
  --json          the same as one JSON object on stdout: each value with its source
  -h, --help      this help`;


export const REPORT_HELP = `Usage: tripline report [--config FILE] [--output KIND[=TARGET]]... [--fail-on LEVEL] [--quiet] [--json] FILE.jsonl...

Reads the detections that tripline run or watch wrote with --jsonl and sends them to the
outputs: --output sarif=FILE, junit=FILE, webhook=URL, github (annotations on stdout,
Markdown job summary to GITHUB_STEP_SUMMARY, step outputs to GITHUB_OUTPUT), plus those of
the configuration file. Prints each detection on stderr unless --quiet (the first 100; all go
to the outputs). Files of any size are read a line at a time; a line may hold 16 MiB.
Revisions of one detection (watch writes each as it is made) are folded by id: the
highest revision wins; one that never closed (the writer was stopped) is reported as its
last revision and said to be not closed.

--json prints a summary on stdout as one JSON object: detections per importance, the
highest, per recipe, and the problems found in the files.

Exit status: 0; 77 when --fail-on (or fail_on) matched; otherwise 64 for a bad command line,
or a file that is missing, unreadable or not a regular file, or a line that is not a
tripline.detection/v1 object: each problem is named (file and line) and every detection that
could be read is still reported.`;

export const DEMO_HELP = `Usage: tripline demo

Runs a small built-in shell script under the real sensor (eBPF as root, else ptrace):
it reads a few kernel network settings, one cat per setting, across several areas of
/proc/sys/net, as hardening audits and reconnaissance scripts do. Tripline reports it
as a detection, with the built-in recipes whatever the configuration says.

Options:
  -h, --help      this help`;

export const SERVE_HELP = `Usage: tripline serve [--port PORT] [--host ADDRESS] [--config FILE] [--store PATH] [--token-file FILE] [--from nats://HOST:4222 [--consumer NAME]]

Serves a web dashboard of the detection store until SIGINT or SIGTERM: detections over
time, filters, each detection with its process ancestry, evidence, timeline, MITRE
links and guidance, sensor health and loss per host, and live updates while run and
watch write. The page loads nothing from elsewhere (the chart is bundled) and sends
a strict Content-Security-Policy.

Options:
  --port PORT        the port (default 7077; 0 picks a free one, printed at start)
  --host ADDRESS     the address to listen on (default 127.0.0.1). Any address but a
                     loopback one requires a token; on loopback the Host header must
                     name 127.0.0.1, localhost or [::1] (no DNS rebinding)
  --config FILE      the configuration file, for its store section (see tripline --help)
  --store PATH       the detection store run and watch write (default: TRIPLINE_STORE,
                     store.path, else /var/lib/tripline/tripline.db as root,
                     $XDG_STATE_HOME/tripline/tripline.db otherwise, made if absent)
  --token-file FILE  a file holding the token (one line, at least 22 characters, mode
                     0600; as root, written by root only). TRIPLINE_SERVE_TOKEN also
                     gives it. Every request must carry it: open the URL once with
                     ?token=TOKEN (it becomes an HttpOnly cookie and leaves the URL),
                     or send Authorization: Bearer TOKEN
  --from URL         also collect the fleet's detections from NATS JetStream into the
                     store (a durable pull consumer; each message acknowledged once
                     committed). Credentials, TLS files and the stream: outputs.nats of
                     the configuration, or TRIPLINE_NATS_* (docs/fleet.md)
  --consumer NAME    the durable consumer's name (default tripline-serve)
  -h, --help         this help

Prints the URL on stdout once listening. Exit status 64 for a bad command line, a
store named by --store, TRIPLINE_STORE or store.path that does not exist, a refused
token, or an address it cannot listen on. Reference: docs/dashboard.md.`;

export const DETECTIONS_HELP = `Usage:
  tripline detections list [filters] [--limit N] [--json]
  tripline detections show ID [--revisions] [--json]
  tripline detections export --format jsonl|sarif|junit [--output FILE] [filters]
  tripline detections stats [filters] [--json]
  tripline detections prune [--older-than AGE] [--max-size SIZE]

The detection history: run and watch record every revision of every detection, and
the sensor's health, in one SQLite file. Reading never blocks them.

list    the detections matching, newest first (at most --limit, default 100)
show    one detection as the report shows it (--revisions: every revision; --json)
export  the detections matching as JSON Lines, SARIF 2.1.0 or JUnit XML, to FILE
        or stdout, oldest first
stats   counts by importance, recipe, host, environment and state, and per time
        bucket
prune   removes detections last recorded longer ago than AGE (30d, 12h, 2w) and
        the oldest ones past SIZE (512MiB, 2GB); default: store.retention and
        store.max_size of the configuration

Filters:
  --since AGE|TIME     detections made since AGE ago (24h, 7d) or an ISO 8601 time
  --until AGE|TIME     made before
  --recipe ID          the recipe (repeatable, or comma-separated; so are the next three)
  --importance LEVEL   low, medium, high or critical
  --host NAME          the host name
  --environment KIND   ci, staging, production, development or unknown
  --container TEXT     a container id (12 characters or more of it), name, pod name
                       or NAMESPACE/POD
  --state STATE        open, updated or closed

Options:
  --store PATH         the store (default: TRIPLINE_STORE, store.path in the
                       configuration, else /var/lib/tripline/tripline.db as root,
                       $XDG_STATE_HOME/tripline/tripline.db (~/.local/state) else)
  --config FILE        the configuration file (see tripline --help)
  -h, --help           this help

Exit status 64 for a bad command line, or a store that is absent, refused or from a
newer Tripline (the message says which).`;

export const COMPLETION_HELP = `Usage: tripline completion bash|zsh

Prints a completion script for the shell on stdout. Install it with, for bash:
  tripline completion bash > /etc/bash_completion.d/tripline
or for zsh (a directory on your fpath):
  tripline completion zsh > "\${fpath[1]}/_tripline"

Options:
  -h, --help      this help`;

/** A documentation file of the installed package, or its URL when the package is not found on disk. */
export function docPath(relative: string): string {
  const local = fileURLToPath(new URL(`../../${relative}`, import.meta.url));
  return existsSync(local) ? local : `${PROJECT_URL}/blob/main/${relative}`;
}
