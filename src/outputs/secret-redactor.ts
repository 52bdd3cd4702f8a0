// Secret redaction for what leaves the host (CI reports, files, webhooks): tokens, keys,
// passwords in URLs, headers, options and env-style assignments become [REDACTED], keeping the
// harmless prefix (`--password=[REDACTED]`, `ghp_[REDACTED]`) so the reader sees what it was.
// Every rule's output is a fixed point of every rule, so redaction is idempotent.

import type { CiContext } from '../model/environment.ts';
import type { Detection, DetectionProcess, EvidenceFile } from '../model/detection.ts';

export const REDACTED = '[REDACTED]';

/** Options whose value is a secret, in both the `--opt=value` and the `--opt value` forms. */
export const SECRET_OPTIONS: readonly string[] = [
  '--password', '--passwd', '--pass', '--token', '--secret', '--api-key', '--apikey', '--access-key', '--client-secret', '--auth',
];

/** `--token`, and also `--db-password`, `--github-token`: any hyphenated words ending in a secret name. */
const OPTION_NAMES = '--(?:[a-z0-9]+-)*(?:password|passwd|pass|token|secret|api-key|apikey|access-key|client-secret|auth)';
const OPTION_NAME = new RegExp(`^${OPTION_NAMES}$`);
/** A quoted value takes what is glued to its closing quote, so `[REDACTED]` is never followed by a value character. */
const TEXT_VALUE = `(?:'[^'\\n]*'|"[^"\\n]*")[^\\s'"]*|[^\\s'"]+`;
const SECRET_KEY_SUFFIX = '(?:password|passwd|token|secret|secret_key|api_key|apikey|private_key|access_key|_pass)';
const HEADER_NAMES = '(?:authorization|proxy-authorization|private-token|x-api-key|x-auth-token)';
const AUTH_SCHEMES = '(?:bearer|basic|token|digest|negotiate)';

/**
 * Each rule finds `keep` (shown), `secret` (replaced) and an optional `tail` (shown). A value
 * in free text ends at whitespace or a quote, or is a quoted string on one line.
 */
const RULES: readonly RegExp[] = [
  // A private key block, up to its end marker or the end of the text (a cut argv).
  /(?<keep>-----BEGIN (?<kind>[A-Z0-9 ]*)PRIVATE KEY-----)(?<secret>[\s\S]*?)(?<tail>-----END \k<kind>PRIVATE KEY-----|$)/g,
  new RegExp(`(?<keep>${HEADER_NAMES}\\s*:\\s*(?:${AUTH_SCHEMES}\\s+)?)(?<secret>${TEXT_VALUE})`, 'gi'),
  // scheme://user:password@host; the password may hold a raw '@' (the last one ends it).
  /(?<keep>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,31}:\/\/[^\s:/?#@'"]{0,256}:)(?<secret>[^\s/?#'"]{1,1024})(?<tail>@)/gi,
  // scheme://TOKEN@host: a long user name with no password is a token (https://x-access-token…@github.com).
  /(?<keep>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,31}:\/\/)(?<secret>[A-Za-z0-9_\-.~%]{16,256})(?<tail>@)/gi,
  // Chat webhooks carry their secret in the path.
  /(?<keep>hooks\.slack\.com\/(?:services|workflows|triggers)\/)(?<secret>[A-Za-z0-9_/-]+)/gi,
  /(?<keep>discord(?:app)?\.com\/api\/webhooks\/)(?<secret>[A-Za-z0-9_/-]+)/gi,
  /(?<keep>aws_secret_access_key["']?\s*[=:]\s*["']?)(?<secret>[A-Za-z0-9/+=]{40})/gi,
  /(?<keep>gh[pousr]_)(?<secret>[A-Za-z0-9]{36,})/g,
  // Tokens whose alphabet holds their own prefix start at a word start, so `glpat-glpat-…` stays linear.
  /(?<keep>(?<![\w-])github_pat_)(?<secret>[A-Za-z0-9_]{22,})/g,
  /(?<keep>(?<![\w-])gl(?:pat|dt|rt)-)(?<secret>[A-Za-z0-9_-]{20,})/g,
  /(?<keep>npm_)(?<secret>[A-Za-z0-9]{36,})/g,
  /(?<keep>A(?:KIA|SIA))(?<secret>[A-Z0-9]{16})/g,
  /(?<keep>(?<![\w-])xox[abprs]-)(?<secret>[A-Za-z0-9-]{10,})/g,
  /(?<keep>(?<![\w-])eyJ)(?<secret>[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)/g,
  // A whole quoted `'--opt=a b'` or `"KEY=a b"` (a shell-quoted argv element): the value runs to the quote.
  new RegExp(`(?<keep>(?<q>['"])(?:${OPTION_NAMES}|[A-Za-z0-9_]*${SECRET_KEY_SUFFIX})=)(?<secret>(?:(?!\\k<q>)[^\\n])*)(?<tail>\\k<q>)`, 'gi'),
  new RegExp(`(?<keep>(?<![\\w-])${OPTION_NAMES}(?:=|\\s+))(?<secret>${TEXT_VALUE})`, 'g'),
  new RegExp(`(?<keep>(?<![A-Za-z0-9_])[A-Za-z0-9_]*${SECRET_KEY_SUFFIX}=)(?<secret>${TEXT_VALUE})`, 'gi'),
];

/** Argv elements whose whole remainder is the secret (an argv element may hold spaces). */
const WHOLE_ELEMENT = [
  new RegExp(`^(?<keep>${OPTION_NAMES}=)(?<secret>.+)$`, 's'),
  new RegExp(`^(?<keep>[A-Za-z0-9_]*${SECRET_KEY_SUFFIX}=)(?<secret>.+)$`, 'is'),
  new RegExp(`^(?<keep>\\s*${HEADER_NAMES}\\s*:\\s*(?:${AUTH_SCHEMES}\\s+)?)(?<secret>\\S.*)$`, 'is'),
];

interface Groups {
  readonly keep?: string;
  readonly secret?: string;
  readonly tail?: string;
}

/** Applies every rule; the secrets replaced are pushed to `found` when given. */
function redactCollecting(text: string, found?: string[]): string {
  let out = text;
  for (const pattern of RULES) {
    out = out.replace(pattern, (...args: unknown[]) => {
      const groups = args.at(-1) as Groups;
      const secret = groups.secret ?? '';
      if (secret !== REDACTED) found?.push(secret);
      return `${groups.keep ?? ''}${REDACTED}${groups.tail ?? ''}`;
    });
  }
  return out;
}

/** Free text (a command line, a path, a guidance sentence) with every secret shape replaced. */
export function redactText(text: string): string {
  return redactCollecting(text);
}

function redactElement(element: string, found?: string[]): string {
  for (const pattern of WHOLE_ELEMENT) {
    const m = pattern.exec(element);
    const groups = m?.groups as Groups | undefined;
    if (groups?.secret === undefined) continue;
    if (groups.secret !== REDACTED) found?.push(groups.secret);
    return `${groups.keep ?? ''}${REDACTED}`;
  }
  return redactCollecting(element, found);
}

function redactArgvCollecting(argv: readonly string[], found?: string[]): string[] {
  return argv.map((element, i) => {
    const previous = i > 0 ? argv[i - 1] : undefined;
    if (previous !== undefined && (SECRET_OPTIONS.includes(previous) || OPTION_NAME.test(previous))) {
      if (element !== REDACTED) found?.push(element);
      return REDACTED;
    }
    // curl -u user:password, --user user:password: the user stays.
    const colon = element.indexOf(':');
    if ((previous === '-u' || previous === '--user' || previous === '--proxy-user') && colon >= 0 && element.slice(colon + 1) !== REDACTED) {
      found?.push(element.slice(colon + 1));
      return `${element.slice(0, colon + 1)}${REDACTED}`;
    }
    return redactElement(element, found);
  });
}

/** Each element as redactText, an `--opt=value` element entirely, and the element after a bare secret option. */
export function redactArgv(argv: readonly string[]): string[] {
  return redactArgvCollecting(argv);
}

/** Secrets this short are not worth garbling every text they happen to appear in. */
const MIN_LITERAL_SECRET = 4;

/**
 * Redacts text the way the detection's argv was redacted: the secrets found in argv are also
 * replaced wherever they appear literally (a guidance text embeds the shell-quoted command,
 * where `'--password=a b'` or `--token x` no longer look like argv), then the text rules apply.
 */
function textRedactor(secrets: readonly string[]): (text: string) => string {
  const pieces = secrets.flatMap((s) => s.split(REDACTED));
  const literals = [...new Set(pieces.flatMap((s) => [s, s.replace(/'/g, `'\\''`)]))]
    .filter((s) => s.length >= MIN_LITERAL_SECRET)
    .sort((a, b) => b.length - a.length);
  return (text) => redactText(literals.reduce((t, s) => t.split(s).join(REDACTED), text));
}

function redactProcess(p: DetectionProcess, r: (text: string) => string): DetectionProcess {
  return {
    ...p,
    argv: redactArgv(p.argv).map(r),
    exe: p.exe === null ? null : r(p.exe),
    cwd: p.cwd === null ? null : r(p.cwd),
    comm: r(p.comm),
  };
}

function redactFile(f: EvidenceFile, r: (text: string) => string): EvidenceFile {
  return { ...f, path: r(f.path), spelledAs: f.spelledAs.map(r) };
}

function redactCi(ci: CiContext, r: (text: string) => string): CiContext {
  const out: { -readonly [K in keyof CiContext]: CiContext[K] } = { ...ci };
  for (const key of Object.keys(ci) as (keyof CiContext)[]) {
    const value = ci[key];
    if (value !== undefined) out[key] = r(value);
  }
  return out;
}

/**
 * A copy of the detection with every attacker- or user-controlled string redacted: the
 * processes (argv, exe, cwd, comm), the package directory, evidence paths, guidance texts, the
 * CI context. The recipe, numbers and times are kept. Meant for a final detection, once: it
 * copies the whole object.
 */
export function redactDetection(d: Detection): Detection {
  const { process, ancestry, members } = d.subject;
  const secrets: string[] = [];
  for (const p of [process, ...ancestry, ...members]) redactArgvCollecting(p.argv, secrets);
  const r = textRedactor(secrets);
  return {
    ...d,
    environment: { ...d.environment, source: r(d.environment.source), ci: d.environment.ci === null ? null : redactCi(d.environment.ci, r) },
    subject: {
      ...d.subject,
      process: redactProcess(process, r),
      ancestry: ancestry.map((p) => redactProcess(p, r)),
      members: members.map((p) => redactProcess(p, r)),
      package: d.subject.package === null ? null : { ...d.subject.package, directory: r(d.subject.package.directory) },
    },
    evidence: {
      ...d.evidence,
      directories: d.evidence.directories.map(r),
      files: d.evidence.files.map((f) => redactFile(f, r)),
    },
    guidance: { ...d.guidance, implications: r(d.guidance.implications), actions: d.guidance.actions.map(r) },
  };
}
