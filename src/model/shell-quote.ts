// How an argv is shown to a reader: quoted for a shell, the way they would retype it. Used by
// the engine's guidance, the outputs and the sensors' messages alike.

/** Quotes argv for a shell the way a reader would retype it. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
