// Secret redaction for what leaves the host (CI reports, files, webhooks): tokens, keys,
// passwords in URLs, headers, options and env-style assignments become [REDACTED], keeping the
// harmless prefix (`--password=[REDACTED]`, `ghp_[REDACTED]`) so the reader sees what it was.
// Every rule's output is a fixed point of every rule, so redaction is idempotent. A command line
// the sensor cut (argvTruncated) may end in part of a token: that part goes too.

import type { CiContext } from '../model/environment.ts';
import type { Detection, DetectionContainer, DetectionProcess, EvidenceFile } from '../model/detection.ts';

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
/** The MySQL and MariaDB command-line clients, whose `-pVALUE` is the password. */
const MYSQL_CLIENTS = '(?:mysql(?:dump|admin|import|show|check|slap|binlog|pump|sh)?|mariadb(?:-(?:dump|admin|import|show|check|slap|binlog))?)(?![\\w.-])';
const MYSQL_CLIENT = new RegExp(`^(?:.*/)?${MYSQL_CLIENTS}$`);

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
  // OpenAI/Anthropic-style (sk-…, sk-proj-…, sk-ant-…) and Stripe (sk_live_…, rk_test_…) secret keys.
  /(?<keep>(?<![\w-])sk-)(?<secret>[A-Za-z0-9_-]{20,})/g,
  /(?<keep>(?<![\w-])[sr]k_(?:live|test)_)(?<secret>[A-Za-z0-9]{16,})/g,
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

/**
 * The end of an argv element the sensor cut (bpftrace reads 384 bytes of argv, strace 4096 per
 * string): a known token prefix followed by what is left of the token. Whatever length is left,
 * it goes; so does a URL password cut before its `@`. Anchored at the end: only the cut point.
 */
const CUT_SECRETS: readonly RegExp[] = [
  /(?<keep>(?<![\w.-])(?:gh[pousr]_|github_pat_|gl(?:pat|dt|rt)-|npm_|A(?:KIA|SIA)|xox[abprs]-|sk-|[sr]k_(?:live|test)_|eyJ))(?<secret>[A-Za-z0-9_.-]+)$/,
  /(?<keep>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,31}:\/\/[^\s:/?#@'"]{0,256}:)(?<secret>[^\s/?#'"@]+)$/i,
];

/** Where the kernel cuts a process name (TASK_COMM_LEN 16, with its NUL). */
const COMM_LENGTH = 15;

interface Groups {
  readonly keep?: string;
  readonly secret?: string;
  readonly tail?: string;
}

/** A MySQL/MariaDB client named in free text (a shell command), by name or path. */
const MYSQL_IN_TEXT = new RegExp(`(?<![\\w./-])(?:[\\w./-]*/)?${MYSQL_CLIENTS}`, 'g');
/** The end of a simple command: what follows is another program's arguments. */
const COMMAND_END = /[;&|()\n`]/g;
/** `-pVALUE` as a word of its own. */
const GLUED_PASSWORD = new RegExp(`(?<=^|\\s)(?<keep>-p)(?<secret>${TEXT_VALUE})`, 'g');

/**
 * `mysql -pSECRET` in a shell command: the password glued to -p, for the MySQL/MariaDB clients
 * only (-p is a port, a path or a flag elsewhere); `-p VALUE` is not a password there (it
 * prompts, and VALUE is the database). One pass: each command is looked at once.
 */
function redactMysqlPasswords(text: string, found?: string[]): string {
  let out = '';
  let done = 0;
  MYSQL_IN_TEXT.lastIndex = 0;
  for (let m = MYSQL_IN_TEXT.exec(text); m !== null; m = MYSQL_IN_TEXT.exec(text)) {
    const from = m.index + m[0].length;
    COMMAND_END.lastIndex = from;
    const end = COMMAND_END.exec(text)?.index ?? text.length;
    out += text.slice(done, from) + text.slice(from, end).replace(GLUED_PASSWORD, (...args: unknown[]) => {
      const secret = (args.at(-1) as Groups).secret ?? '';
      if (secret !== REDACTED) found?.push(secret);
      return `-p${REDACTED}`;
    });
    done = end;
    MYSQL_IN_TEXT.lastIndex = end;
  }
  return done === 0 ? text : out + text.slice(done);
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
  return redactMysqlPasswords(out, found);
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

/** The end of a cut text, when it may be the start of a secret: `ghp_[REDACTED]`. */
function redactCutEnd(text: string, found?: string[]): string {
  let out = text;
  for (const pattern of CUT_SECRETS) {
    const m = pattern.exec(out);
    const groups = m?.groups as Groups | undefined;
    if (m === null || groups?.secret === undefined) continue;
    // The prefix too: a short remainder alone would garble every text it happens to appear in.
    found?.push(`${groups.keep ?? ''}${groups.secret}`);
    out = `${out.slice(0, m.index)}${groups.keep ?? ''}${REDACTED}`;
  }
  return out;
}

function redactArgvCollecting(argv: readonly string[], found?: string[], truncated = false): string[] {
  const redacted = redactWholeArgv(argv, found);
  // Which element the sensor cut is not known (strace cuts any string over its limit): every
  // element's end is treated as a possible cut.
  return truncated ? redacted.map((element) => redactCutEnd(element, found)) : redacted;
}

function redactWholeArgv(argv: readonly string[], found?: string[]): string[] {
  let mysql = false;
  return argv.map((element, i) => {
    const previous = i > 0 ? argv[i - 1] : undefined;
    // mysql -pSECRET (also after sudo, env, docker exec …): the client named earlier in argv.
    if (mysql && /^-p./s.test(element)) {
      if (element.slice(2) !== REDACTED) found?.push(element.slice(2));
      return `-p${REDACTED}`;
    }
    if (MYSQL_CLIENT.test(element)) mysql = true;
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

/**
 * Each element as redactText, an `--opt=value` element entirely, the element after a bare secret
 * option, `-pSECRET` after a MySQL/MariaDB client; with `truncated` (the sensor cut the command
 * line), also what may be the start of a token at the end of each element.
 */
export function redactArgv(argv: readonly string[], truncated = false): string[] {
  return redactArgvCollecting(argv, undefined, truncated);
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

/**
 * A container or pod label whose key names a secret (`db-password`, `vault.token`,
 * `com.example/api-key`, `AWS_SECRET_ACCESS_KEY`): its whole value is one. Labels often carry
 * credentials a deployment passed along.
 */
const SECRET_LABEL_KEY = /(?:^|[._/-])(?:password|passwd|pass|pwd|token|secret|secret[._-]?(?:access[._-]?)?key|api[._-]?key|apikey|private[._-]?key|access[._-]?key|credentials?|auth|dsn)$/i;

/** The values of a container's (and its pod's) labels whose keys name a secret. */
function labelSecrets(c: DetectionContainer | null | undefined): string[] {
  if (c === null || c === undefined) return [];
  const labels = [c.labels, c.pod?.labels ?? {}];
  return labels.flatMap((l) => Object.entries(l).filter(([k, v]) => SECRET_LABEL_KEY.test(k) && v !== '' && v !== REDACTED).map(([, v]) => v));
}

function redactLabels(labels: Readonly<Record<string, string>>, r: (text: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) out[r(k)] = SECRET_LABEL_KEY.test(k) && v !== '' ? REDACTED : r(v);
  return out;
}

/** The container's name, image, labels and pod (the id and digest are hex the runtime made). */
function redactContainer(c: DetectionContainer, r: (text: string) => string): DetectionContainer {
  return {
    ...c,
    name: c.name === null ? null : r(c.name),
    image: c.image === null ? null : r(c.image),
    labels: redactLabels(c.labels, r),
    pod: c.pod === null ? null : {
      ...c.pod, name: r(c.pod.name), namespace: r(c.pod.namespace), uid: c.pod.uid === null ? null : r(c.pod.uid), labels: redactLabels(c.pod.labels, r),
    },
  };
}

function redactProcess(p: DetectionProcess, r: (text: string) => string): DetectionProcess {
  return {
    ...p,
    ...(p.container === undefined || p.container === null ? {} : { container: redactContainer(p.container, r) }),
    argv: redactArgv(p.argv, p.argvTruncated).map(r),
    exe: p.exe === null ? null : r(p.exe),
    cwd: p.cwd === null ? null : r(p.cwd),
    // The kernel cuts a process name at 15 characters.
    comm: r(p.comm.length >= COMM_LENGTH ? redactCutEnd(p.comm) : p.comm),
  };
}

function redactFile(f: EvidenceFile, r: (text: string) => string): EvidenceFile {
  return { ...f, path: r(f.path), spelledAs: f.spelledAs.map(r) };
}

function redactCi(ci: CiContext, r: (text: string) => string): CiContext {
  const out: { -readonly [K in keyof CiContext]: CiContext[K] } = { ...ci };
  for (const key of Object.keys(ci) as (keyof CiContext)[]) {
    if (key === 'step') continue;
    const value = ci[key];
    if (value !== undefined) out[key] = r(value);
  }
  // The step comes from a process's environment: its strings are redacted like the rest.
  if (ci.step !== undefined) out.step = { ...ci.step, id: r(ci.step.id), ...(ci.step.action === undefined ? {} : { action: r(ci.step.action) }) };
  return out;
}

/**
 * A copy of the detection with every attacker- or user-controlled string redacted: the
 * processes (argv, exe, cwd, comm, and their containers' name, image, labels and pod: a label
 * whose key names a secret entirely), the package directory, evidence paths, guidance texts, the
 * CI context. The recipe, numbers and times are kept. Meant for a final detection, once: it
 * copies the whole object.
 */
export function redactDetection(d: Detection): Detection {
  const { process, ancestry, members } = d.subject;
  const secrets: string[] = [];
  for (const p of [process, ...ancestry, ...members]) {
    redactArgvCollecting(p.argv, secrets, p.argvTruncated);
    if (p.comm.length >= COMM_LENGTH) redactCutEnd(p.comm, secrets);
    // A label's secret goes wherever else it appears too (a command line, the guidance).
    secrets.push(...labelSecrets(p.container));
  }
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
