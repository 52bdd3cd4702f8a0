// A message received from the fleet stream, decoded: a tripline.detection/v1 object (checked
// against the published schema, as `tripline report` checks a JSONL line) carrying its revision
// and state, or the reason it is not one. Anyone who may publish on the subject writes it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { Detection } from '../model/detection.ts';
import { visible } from '../model/visible.ts';
import { DETECTION_STATES, type DetectionRevisionInput } from '../store/detection-store.ts';
import { hostSubject, SUBJECT_PREFIX } from './nats-connection.ts';

/** Larger messages are refused before parsing (the server's default max payload is 1 MiB). */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** The store keeps ids up to this length. */
const MAX_ID_CHARS = 256;

const require = createRequire(import.meta.url);
let check: ValidateFunction | undefined;

function detectionCheck(): ValidateFunction {
  if (check === undefined) {
    const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    // date-time is checked by Date.parse: ajv-formats is not a dependency.
    check = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true })
      .addFormat('date-time', { type: 'string', validate: (v: string) => !Number.isNaN(Date.parse(v)) })
      .compile(JSON.parse(readFileSync(new URL('../../schema/detection-v1.schema.json', import.meta.url), 'utf8')) as object);
  }
  return check;
}

/** The revision to record, or why the message is not a detection revision. */
export function decodeDetectionMessage(data: Uint8Array, origin: string): { readonly input: DetectionRevisionInput } | { readonly problem: string } {
  if (data.length > MAX_MESSAGE_BYTES) return { problem: `${String(data.length)} bytes, more than ${String(MAX_MESSAGE_BYTES)}` };
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (error) {
    return { problem: `not JSON in UTF-8 (${(error as Error).message})` };
  }
  const validate = detectionCheck();
  if (!validate(value)) {
    const e = validate.errors?.[0];
    return { problem: `not a tripline.detection/v1 object: ${e === undefined ? 'invalid' : `${e.instancePath === '' ? 'the object' : e.instancePath} ${e.message ?? 'is invalid'}`}` };
  }
  const d = value as Detection & { readonly revision?: unknown; readonly state?: unknown };
  if (d.id.length > MAX_ID_CHARS) return { problem: `the id is longer than ${String(MAX_ID_CHARS)} characters` };
  // The publisher always sets both (the schema makes them go together).
  if (typeof d.revision !== 'number' || !Number.isSafeInteger(d.revision) || d.revision < 1) return { problem: 'no revision: a fleet message carries its revision and state' };
  if (typeof d.state !== 'string' || !(DETECTION_STATES as readonly string[]).includes(d.state)) return { problem: 'no state: a fleet message carries its revision and state' };
  // A host publishes on its own subject only: with per-host publish permissions on the server
  // (docs/fleet.md), no host can then speak for another.
  if (origin.startsWith(`${SUBJECT_PREFIX}.`) && hostSubject(d.host.hostname) !== origin) {
    return { problem: `a detection of host ${visible(d.host.hostname.slice(0, 256))} sent on another host's subject` };
  }
  return { input: { detection: d, revision: d.revision, state: d.state, origin } };
}
