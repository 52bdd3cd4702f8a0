// Making attacker-controlled text (argv, paths, comm) safe to print on a terminal: control
// characters, escape sequences and bidirectional overrides are shown, never interpreted. The
// implementation lives in model/ so that diagnostics (which cannot import outputs/) share it.

export { visible } from '../model/visible.ts';
