// Keeps strace's output FIFO drained if Tripline dies (SIGKILL, OOM killer). strace writes its
// trace to a FIFO Tripline reads; with the reader gone, every write fails with EPIPE and strace
// says so on its stderr, which is the command's own: one "Broken pipe" line per trace line
// (166,000 for a loop of 3,000 cats). strace must not be killed instead: with --seccomp-bpf the
// traced calls of a tracee left without its tracer fail with ENOSYS.
//
// So a small helper process holds a read end of the FIFO from the start, reading nothing while
// Tripline lives (the trace is Tripline's), and waits on a pipe from Tripline. When that pipe
// ends without a word, Tripline is gone: the helper reads the FIFO to its end and discards it,
// and the command runs on, untraced in effect but unharmed, with a clean stderr. When Tripline
// ends normally it stops the helper.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';

/**
 * The helper's program (node, which is running Tripline already: nothing looked up). It
 * starts reading fd 3 (the FIFO) only once its stdin ends: then Tripline is dead.
 */
const HELPER = `
const net = require('node:net');
process.on('SIGINT', () => {}); process.on('SIGHUP', () => {}); process.on('SIGQUIT', () => {});
const drain = () => {
  const fifo = new net.Socket({ fd: 3, readable: true, writable: false });
  fifo.on('error', () => process.exit(0));
  fifo.on('end', () => process.exit(0));
  fifo.resume();
};
process.stdin.on('data', () => {});
process.stdin.on('end', drain);
process.stdin.on('error', drain);
`;

export interface FifoDrain {
  /** Tripline is done with the FIFO: the helper ends without reading anything. */
  stop(): void;
}

/**
 * Starts the helper for `fifo` (which must exist). Never throws: without a helper, a killed
 * Tripline leaves strace's complaints on the command's stderr, as before.
 */
export function startFifoDrain(fifo: string): FifoDrain {
  let fd: number | undefined;
  let helper: ChildProcess | undefined;
  try {
    // O_NONBLOCK: a FIFO's read end opens at once, before strace opens the write end.
    fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    helper = spawn(process.execPath, ['-e', HELPER], {
      // Its own process group, so a Ctrl-C at the terminal does not end it; no variables
      // (NODE_OPTIONS and the like) from the command's environment.
      detached: true,
      env: {},
      stdio: ['pipe', 'ignore', 'ignore', fd],
    });
    helper.on('error', () => undefined);
    helper.stdin?.on('error', () => undefined);
    // Neither keeps Tripline running: the pipe only has to end when Tripline does.
    helper.unref();
    (helper.stdin as { unref?: () => void } | null)?.unref?.();
  } catch {
    helper = undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return {
    stop: () => {
      helper?.kill('SIGKILL');
      helper = undefined;
    },
  };
}
