// Sizes and durations as people write them in a configuration file or on a command line
// ("512MiB", "2GB", "30d", "12h"), for the store's size cap and retention.

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1, B: 1,
  k: 1e3, K: 1e3, kB: 1e3, KB: 1e3, M: 1e6, MB: 1e6, G: 1e9, GB: 1e9, T: 1e12, TB: 1e12,
  Ki: 1024, KiB: 1024, Mi: 1024 ** 2, MiB: 1024 ** 2, Gi: 1024 ** 3, GiB: 1024 ** 3, Ti: 1024 ** 4, TiB: 1024 ** 4,
};

/** Bytes in "1048576", "512MiB", "2GB", "1.5G" (decimal units are powers of 1000, binary ones of 1024); undefined when not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = /^([0-9]{1,15}(?:\.[0-9]{1,6})?) ?([A-Za-z]{0,3})$/.exec(text.trim());
  if (m === null) return undefined;
  const unit = SIZE_UNITS[m[2] ?? ''];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds in "90s", "15m", "12h", "30d", "2w"; undefined when not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^([0-9]{1,9}) ?([smhdw])$/.exec(text.trim());
  if (m === null) return undefined;
  const ms = Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? NaN);
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}
