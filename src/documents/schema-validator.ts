// Validates a parsed YAML document against a published JSON Schema and turns every schema
// error into a diagnostic at its place, with a hint (the nearest known key, the allowed
// values, or the schema's own description of the expected form).

import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { Diagnostic } from '../model/diagnostic.ts';
import { closestName } from './closest-name.ts';
import type { DocumentPath, YamlDocument } from './yaml-document.ts';

export type SchemaCheck = (doc: YamlDocument) => Diagnostic[];

/**
 * The check of a validator (generated ahead of time: validator-source.ts): every schema error
 * as a diagnostic at its place in the document, all problems of a document at once.
 */
export function schemaCheck(validate: ValidateFunction): SchemaCheck {
  return (doc) => {
    if (validate(doc.value)) return [];
    const seen = new Set<string>();
    const out: Diagnostic[] = [];
    for (const e of collapseAlternatives(validate.errors ?? [])) {
      const d = toDiagnostic(e, doc);
      if (d === undefined) continue;
      const key = `${String(d.line)}:${String(d.column)}:${d.code}:${d.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(d);
    }
    // A missing key that an unknown key beside it misspells is one mistake, reported once (as the misspelling).
    const misspelt = new Set(out.filter((d) => d.code === 'unknown-key' && d.hint?.startsWith('did you mean') === true).map((d) => d.hint));
    const all = out.filter((d) => d.code !== 'missing-key' || !misspelt.has(`did you mean "${/has no "([^"]+)"/.exec(d.message)?.[1] ?? ''}"?`));
    const next = all[MAX_SCHEMA_DIAGNOSTICS];
    if (next === undefined) return all;
    // Thousands of lines of the same mistake help nobody (and a reload would log them all).
    return [...all.slice(0, MAX_SCHEMA_DIAGNOSTICS), {
      severity: 'error', code: 'too-many-problems', file: doc.file, line: next.line, column: next.column,
      message: `${String(all.length - MAX_SCHEMA_DIAGNOSTICS)} more problem(s) from here on are not listed`,
      hint: 'fix the ones above and check again',
    }];
  };
}

/** Schema problems listed per document; the rest are counted in one more diagnostic. */
export const MAX_SCHEMA_DIAGNOSTICS = 100;

/**
 * An `anyOf` whose branches all failed reports each branch's errors. Keep what helps: when a
 * branch of the right type failed on its content, its errors; when only types were wrong, one
 * type error naming every accepted type. Linear in the errors (times the depth of their
 * places): each error is matched to the alternatives at its place and above, looked up by path.
 */
function collapseAlternatives(errors: readonly ErrorObject[]): ErrorObject[] {
  const alternativesAt = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    if (e.keyword !== 'anyOf') continue;
    const list = alternativesAt.get(e.instancePath) ?? [];
    list.push(e);
    alternativesAt.set(e.instancePath, list);
  }
  if (alternativesAt.size === 0) return [...errors];
  // Branch errors may come from $refs (whose schemaPath is the definition's), so they are found by place.
  const branches = new Map<ErrorObject, ErrorObject[]>();
  for (const e of errors) {
    for (const place of placesAbove(e.instancePath)) {
      for (const alt of alternativesAt.get(place) ?? []) {
        if (alt === e) continue;
        const list = branches.get(alt) ?? [];
        list.push(e);
        branches.set(alt, list);
      }
    }
  }
  const dropped = new Set<ErrorObject>();
  const merged: ErrorObject[] = [];
  for (const alt of errors) {
    if (alt.keyword !== 'anyOf') continue;
    dropped.add(alt);
    const branch = branches.get(alt) ?? [];
    const typeErrors = branch.filter((e) => e.keyword === 'type' && e.instancePath === alt.instancePath);
    for (const e of typeErrors) dropped.add(e);
    if (typeErrors.length === branch.length && typeErrors[0] !== undefined) {
      const types = [...new Set(typeErrors.map((e) => String((e.params as { type: unknown }).type)))].join(',');
      merged.push({ ...typeErrors[0], params: { type: types }, ...(alt.parentSchema === undefined ? {} : { parentSchema: alt.parentSchema }) });
    }
  }
  return [...errors.filter((e) => !dropped.has(e)), ...merged];
}

/** "/a/b" → "", "/a", "/a/b": the place itself and every place above it. */
function placesAbove(instancePath: string): string[] {
  const places = [''];
  for (let i = instancePath.indexOf('/', 1); i > 0; i = instancePath.indexOf('/', i + 1)) places.push(instancePath.slice(0, i));
  if (instancePath !== '') places.push(instancePath);
  return places;
}

function pathSegments(instancePath: string): (string | number)[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `aggregate.scopes[1].window`, or "the document" for the top. */
export function describePath(path: DocumentPath): string {
  if (path.length === 0) return 'the document';
  return path.map((s, i) => (typeof s === 'number' ? `[${String(s)}]` : i === 0 ? s : `.${s}`)).join('');
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping (key: value)', array: 'a list', string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false', null: 'empty',
};

function schemaField(e: ErrorObject, field: string): unknown {
  const parent: unknown = e.parentSchema;
  if (typeof parent !== 'object' || parent === null) return undefined;
  return (parent as Record<string, unknown>)[field];
}

function description(e: ErrorObject): string | undefined {
  const d = schemaField(e, 'description');
  return typeof d === 'string' ? d : undefined;
}

function toDiagnostic(e: ErrorObject, doc: YamlDocument): Diagnostic | undefined {
  const path = pathSegments(e.instancePath);
  const where = describePath(path);
  const base = { severity: 'error' as const, file: doc.file };
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const props = schemaField(e, 'properties');
      const known = typeof props === 'object' && props !== null ? Object.keys(props) : [];
      const guess = closestName(key, known);
      const at = doc.position([...path, key], 'key');
      return {
        ...base, ...at, code: 'unknown-key', message: `unknown key "${key}" in ${where}`,
        hint: guess !== undefined ? `did you mean "${guess}"?` : `known keys here: ${known.join(', ')}`,
      };
    }
    case 'required': {
      const key = String(params.missingProperty);
      const props = schemaField(e, 'properties');
      const sub: unknown = typeof props === 'object' && props !== null ? (props as Record<string, unknown>)[key] : undefined;
      const subDescription = typeof sub === 'object' && sub !== null && 'description' in sub && typeof sub.description === 'string' ? sub.description : undefined;
      return { ...base, ...doc.position(path, 'key'), code: 'missing-key', message: `${where} has no "${key}"`, ...(subDescription === undefined ? {} : { hint: `${key}: ${subDescription}` }) };
    }
    case 'type': {
      const expected = String(params.type).split(',').map((t) => TYPE_WORDS[t] ?? t).join(' or ');
      return { ...base, ...doc.position(path), code: 'wrong-type', message: `${where} must be ${expected}, not ${typeOf(e.data)}`, ...hintOf(description(e)) };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const guess = typeof e.data === 'string' ? closestName(e.data, allowed) : undefined;
      return {
        ...base, ...doc.position(path), code: 'bad-value', message: `${where} is ${typeOf(e.data)}; use one of ${allowed.join(', ')}`,
        ...(guess === undefined ? {} : { hint: `did you mean "${guess}"?` }),
      };
    }
    case 'const':
      return { ...base, ...doc.position(path), code: 'bad-value', message: `${where} must be ${JSON.stringify(params.allowedValue)}, not ${typeOf(e.data)}` };
    case 'pattern':
    case 'format':
      return { ...base, ...doc.position(path), code: 'bad-value', message: `${where} is ${typeOf(e.data)}, which is not of the expected form`, ...hintOf(description(e)) };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { ...base, ...doc.position(path), code: 'bad-value', message: `${where} must be ${String(params.comparison)} ${String(params.limit)}, not ${typeOf(e.data)}` };
    case 'minItems':
      return { ...base, ...doc.position(path), code: 'bad-value', message: `${where} needs at least ${String(params.limit)} item(s)`, ...hintOf(description(e)) };
    case 'maxItems':
      return { ...base, ...doc.position(path), code: 'bad-value', message: `${where} may have at most ${String(params.limit)} item(s)` };
    case 'minLength':
      return { ...base, ...doc.position(path), code: 'bad-value', message: `${where} must not be empty`, ...hintOf(description(e)) };
    case 'maxLength':
      return { ...base, ...doc.position(path), code: 'bad-value', message: `${where} is longer than ${String(params.limit)} characters` };
    case 'minProperties':
    case 'maxProperties':
      return { ...base, ...doc.position(path), code: 'bad-value', message: `${where} ${e.keyword === 'minProperties' ? 'needs at least' : 'may have at most'} ${String(params.limit)} key(s)`, ...hintOf(description(e)) };
    case 'uniqueItems':
      {
        // ajv names the pair (j, i); the repeat is the later of the two.
        const repeat = Math.max(Number(params.i), Number(params.j));
        const first = Math.min(Number(params.i), Number(params.j));
        return { ...base, ...doc.position([...path, repeat]), code: 'duplicate-item', message: `${where}[${String(repeat)}] repeats ${where}[${String(first)}]` };
      }
    case 'anyOf':
    case 'oneOf':
    case 'if':
      // The branches' own errors say what is wrong.
      return undefined;
    default:
      return { ...base, ...doc.position(path), code: 'invalid', message: `${where} ${e.message ?? 'is invalid'}` };
  }
}

function hintOf(text: string | undefined): { hint?: string } {
  return text === undefined ? {} : { hint: `expected ${text}` };
}
