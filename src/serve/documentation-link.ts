// The link a detection's recipe documentation gets on the page. A detection received from
// another host (the fleet) may carry any text there, so only the project's own documentation
// is linked: a built-in recipe's docs/… path on the project's site, or a URL already under it.
// Anything else (another site, a local file path) is shown as text, never as a link.

/** The project's repository (src/model/tripline-project.ts PROJECT_URL; a test keeps them equal: that module reads the file system, this one runs in the page). */
export const PROJECT_SITE = 'https://github.com/tripline-dev/tripline';
/** Every documentation URL linked starts here. */
export const DOCUMENTATION_BASE = `${PROJECT_SITE}/blob/main/docs/`;

/** A path below docs/: letters, digits, _ . - and /, no empty, . or .. segment. */
function isDocsPath(rest: string): boolean {
  return /^[\w.-]+(?:\/[\w.-]+)*$/.test(rest) && !rest.split('/').some((s) => s === '.' || s === '..');
}

/** The URL to link for `documentation`, or undefined when it must be shown as text. */
export function documentationUrl(documentation: string): string | undefined {
  // A built-in recipe names its page in the package (docs/recipes/NAME.md): on the project's site.
  const relative = /^(?:\.\/)?docs\/(.*)$/.exec(documentation);
  if (relative?.[1] !== undefined) return isDocsPath(relative[1]) ? `${DOCUMENTATION_BASE}${relative[1]}` : undefined;
  if (!documentation.startsWith(DOCUMENTATION_BASE)) return undefined;
  let url: URL;
  try {
    url = new URL(documentation);
  } catch {
    return undefined;
  }
  // Checked again once parsed (a parser resolves dot segments and escapes): what is linked is
  // what was checked, and it is the project's page.
  if (url.href !== documentation || url.search !== '' || !/^(?:#[\w.-]*)?$/.test(url.hash)) return undefined;
  if (url.origin !== new URL(PROJECT_SITE).origin || url.username !== '' || url.password !== '') return undefined;
  const path = `${url.origin}${url.pathname}`;
  if (!path.startsWith(DOCUMENTATION_BASE) || !isDocsPath(path.slice(DOCUMENTATION_BASE.length))) return undefined;
  return url.href;
}
