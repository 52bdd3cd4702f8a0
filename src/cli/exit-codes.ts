// Exit codes of the tripline command (documented in the README). `run` otherwise exits with
// the wrapped command's own code, 128+N when a signal ended it.

export const EXIT = {
  ok: 0,
  /** --fail-on matched: a detection at or above the given importance. */
  policy: 77,
  /** Bad command line. */
  usage: 64,
  /** The sensor could not start or died while the command ran (observation incomplete). */
  sensor: 69,
  /** The configuration file has errors, or a TRIPLINE_* variable a bad value (EX_CONFIG). */
  config: 78,
  /** `recipes validate` found errors (like a compiler). */
  invalid: 1,
  /** A bug in tripline. */
  internal: 70,
  /** The command does not exist (as a shell reports it). */
  commandNotFound: 127,
  /** The command exists but cannot be executed. */
  commandNotExecutable: 126,
} as const;

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19,
  SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28,
  SIGIO: 29, SIGPWR: 30, SIGSYS: 31,
};

/** 128 + the signal's number, as shells report a signal death. */
export function signalExitCode(signal: string): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 0);
}
