// Making attacker-controlled text (argv, paths, comm) safe to print on a terminal: control
// characters and escape sequences are shown, never interpreted.

/** Replaces C0/C1 controls and DEL with visible escapes, so a crafted argv cannot drive the terminal. */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}
