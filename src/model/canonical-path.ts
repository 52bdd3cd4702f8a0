// Relations between canonical absolute paths (no ".", "..", "//" or trailing "/"), shared by
// the normalizer, the recipes' patterns and the engine.

/** True when `path` equals `root` or lies below it. Both canonical. */
export function isUnder(path: string, root: string): boolean {
  if (root === '/') return true;
  return path === root || (path.startsWith(root) && path.charCodeAt(root.length) === 0x2f);
}

/** The directory a canonical path lies in ("/" for the root and top-level names). */
export function parentDirectory(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}
