// The hash of the compiled sensor's sources (and of the script that builds them), printed as
// hex: recorded in sensor/SOURCES.sha256 by build-sensor.sh and checked by a test.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SENSOR_SOURCES = [
  'src/sensors/compiled/tripline.bpf.c', 'src/sensors/compiled/tripline-hooks.bpf.c', 'src/sensors/compiled/tripline-shared.bpf.h',
  'src/sensors/compiled/tripline-records.h', 'src/sensors/compiled/loader.c', 'scripts/build-sensor.sh',
];

export function sensorSourcesHash(root) {
  const hash = createHash('sha256');
  for (const file of SENSOR_SOURCES) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(`${root}/${file}`));
    hash.update('\0');
  }
  return hash.digest('hex');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${sensorSourcesHash(fileURLToPath(new URL('..', import.meta.url)))}\n`);
}
