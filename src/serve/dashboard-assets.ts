// The page's files: the HTML shell, the script and the style sheet that `npm run
// build:dashboard` bundles from src/serve/web/ (uPlot included) into the committed dashboard/
// folder. Found beside the code like recipes/ and schema/ (two levels up from src/serve/,
// dist/serve/ and action/dist/), read once at start and served from memory.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  /** A strong validator: the content's hash. */
  readonly etag: string;
}

/** Served path → file in dashboard/ and its type. */
const FILES: readonly (readonly [string, string, string])[] = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/assets/app.js', 'app.js', 'text/javascript; charset=utf-8'],
  ['/assets/app.css', 'app.css', 'text/css; charset=utf-8'],
  ['/assets/THIRD-PARTY-LICENSES.txt', 'THIRD-PARTY-LICENSES.txt', 'text/plain; charset=utf-8'],
];

export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

/** Every asset by served path; throws naming the file when one is missing (a broken package). */
export function loadDashboardAssets(dir = DASHBOARD_DIR): ReadonlyMap<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [path, file, contentType] of FILES) {
    let body: Buffer;
    try {
      body = readFileSync(`${dir}${file}`);
    } catch (error) {
      throw new Error(`the dashboard's ${file} cannot be read in ${dir} (${(error as Error).message}); npm run build:dashboard makes it`);
    }
    assets.set(path, { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  return assets;
}
