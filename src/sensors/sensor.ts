// The one interface every sensor implements (ptrace via strace, the compiled eBPF sensor,
// bpftrace), so `run` and `watch` drive a sensor without knowing which one it is: start, run a
// command limited to its process tree, stop, health, and what it tells its observer.

import type { ProcessInfo } from '../model/process-info.ts';
import type { Recipe } from '../model/recipe.ts';
import type { SensorEvent, TimeMs } from '../model/sensor-event.ts';

/** What a sensor tells the code that started it. */
export interface SensorObserver {
  /** Events in causal order (a process's fork before its own events), synchronously as they are released. */
  readonly onEvents: (events: readonly SensorEvent[]) => void;
  /**
   * The sensor ended without being asked to. `reason` is printable (escaped); `lastSeenMs` is
   * the time of the newest event it delivered: what happened after it was not observed.
   */
  readonly onDied?: (reason: string, lastSeenMs: TimeMs) => void;
}

/** Which program observes, for messages and the detections' sensor block; may change at start (a fallback). */
export interface SensorDescription {
  readonly kind: 'ptrace' | 'ebpf';
  /** The program: "strace", "tripline-sensor", "bpftrace". */
  readonly name: string;
  readonly version: string;
  /** One line for the report: "strace 6.1 --seccomp-bpf", "eBPF, tripline-sensor sources 0123abcd, tier tracepoints (security hooks refused)". */
  readonly label: string;
  /** Which kernel hooks write the events and why (printable), where the sensor has tiers (the compiled eBPF sensor). */
  readonly tier?: string;
}

/** How the sensor is doing (watch's health line, the run report, the detections' sensor block). */
export interface SensorHealth {
  /** Lines or records read from the program. */
  readonly lines: number;
  /** Events the kernel or the program dropped (buffers full). */
  readonly lost: number;
  readonly late: number;
  /** Processes that came without their fork. */
  readonly orphans: number;
  readonly unparsed: number;
  readonly unparsedSamples: readonly { readonly line: number; readonly reason: string; readonly text: string }[];
  readonly maxLatenessMs: number;
  readonly holdMs: number;
  readonly pending: number;
}

/** What the sensor may ask about processes the observer has built from its events. */
export interface ProcessView {
  get(pid: number): ProcessInfo | undefined;
  /** Processes seen starting and not yet ending. */
  livePids(): readonly number[];
}

export interface CommandSpec {
  readonly command: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Called once with the command's pid, as soon as the sensor knows it (signals are forwarded to it). */
  readonly onStarted: (pid: number) => void;
  readonly processes: ProcessView;
}

/** How a command run under a sensor ended, as the sensor saw it. */
export interface CommandOutcome {
  /** The command's own end: its exit code, or the signal that ended it; undefined when the sensor cannot tell. */
  readonly exit: { readonly code: number } | { readonly signal: string } | undefined;
  /** "exit 0", "killed by SIGTERM", "strace killed by SIGKILL". */
  readonly exitText: string;
  /** Observing failed while the command ran (the sensor died): part of what it did was not seen. */
  readonly failed: boolean;
  /** From the command's start until it and everything it started had ended (the sensor's attach and detach excluded). */
  readonly durationMs: number;
  /** What the reader must know about the observation: loss, a dead sensor, unread lines. */
  readonly warnings: readonly string[];
}

export interface Sensor {
  /** The program observing now (a compiled sensor the kernel refuses becomes bpftrace at start). */
  describe(): SensorDescription;
  /**
   * Attaches and resolves once observing. A host-wide sensor (eBPF) observes every process from
   * then on; the ptrace sensor has nothing to attach until it runs a command.
   */
  start(): Promise<void>;
  /**
   * Runs a command under the sensor, limited to the command's process tree, and resolves when
   * the command and every process it started have ended and their events are delivered.
   */
  runCommand(spec: CommandSpec): Promise<CommandOutcome>;
  /** Stops observing, after delivering what happened before the call (harmless to every process). */
  stop(): Promise<void>;
  /** Whether the last stop() delivered everything up to its start (false: it gave up waiting). */
  readonly drained: boolean;
  health(): SensorHealth;
  /** How long the last start took to attach, and the last stop to detach (undefined: nothing to attach, or not yet). */
  timings(): { readonly attachMs: number | undefined; readonly detachMs: number | undefined };
  /** Observes these recipe roots from now on (a reload); resolves once they are in force. */
  watchRoots(roots: readonly string[]): Promise<void>;
  /** One line per recipe root this sensor, as it runs now, cannot observe (unescaped). */
  unobserved(recipes: readonly Recipe[]): string[];
  /** Now, on the clock of the events. */
  nowMs(): TimeMs;
  /** Why the program chosen first was given up at start, if it was. */
  readonly fallbackReason: string | undefined;
  /** The first error the observer threw (the sensor kept delivering). */
  readonly consumerError: Error | undefined;
}
