import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import { shellQuote } from '../engine/guidance-renderer.ts';
import { redactArgv, redactDetection, redactText } from './secret-redactor.ts';

const A36 = 'aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';

const REDACTS: readonly (readonly [string, string, string])[] = [
  ['GitHub classic token', `ghp_${A36}`, 'ghp_[REDACTED]'],
  ['a token as the user of a URL', 'https://x-access-token0123456789@github.com/acme/shop', 'https://[REDACTED]@github.com/acme/shop'],
  ['a Slack webhook URL', 'https://hooks.slack.com/services/T000/B000/XXXXXXXX', 'https://hooks.slack.com/services/[REDACTED]'],
  ['a Discord webhook URL', 'https://discord.com/api/webhooks/123/abcDEF', 'https://discord.com/api/webhooks/[REDACTED]'],
  ['an option with a prefix', '--db-password=hunter22', '--db-password=[REDACTED]'],
  ['DB_PASS=', 'DB_PASS=hunter22', 'DB_PASS=[REDACTED]'],
  ['SECRET_KEY=', 'SECRET_KEY=abcdef', 'SECRET_KEY=[REDACTED]'],
  ['APIKEY=', 'APIKEY=abcdef', 'APIKEY=[REDACTED]'],
  ['GitHub OAuth token', `gho_${A36}`, 'gho_[REDACTED]'],
  ['GitHub user token', `ghu_${A36}`, 'ghu_[REDACTED]'],
  ['GitHub server token', `ghs_${A36}`, 'ghs_[REDACTED]'],
  ['GitHub refresh token', `ghr_${A36}`, 'ghr_[REDACTED]'],
  ['GitHub fine-grained token', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnop', 'github_pat_[REDACTED]'],
  ['GitLab personal token', 'glpat-xxxxXXXX1234567890ab', 'glpat-[REDACTED]'],
  ['GitLab deploy token', 'gldt-abcdefghij0123456789', 'gldt-[REDACTED]'],
  ['GitLab runner token', 'glrt-abcdefghij0123456789_-', 'glrt-[REDACTED]'],
  ['npm token', `npm_${A36}`, 'npm_[REDACTED]'],
  ['AWS access key id', 'id AKIAIOSFODNN7EXAMPLE here', 'id AKIA[REDACTED] here'],
  ['AWS temporary key id', 'ASIAIOSFODNN7EXAMPLE', 'ASIA[REDACTED]'],
  ['AWS secret key (=)', `aws_secret_access_key=${AWS_SECRET}`, 'aws_secret_access_key=[REDACTED]'],
  ['AWS secret key (: and spaces)', `AWS_SECRET_ACCESS_KEY: ${AWS_SECRET}`, 'AWS_SECRET_ACCESS_KEY: [REDACTED]'],
  ['JWT', `token is ${JWT}.`, 'token is eyJ[REDACTED].'],
  ['Slack bot token', 'xoxb-123456789012-abcdefABCDEF', 'xoxb-[REDACTED]'],
  ['Slack user token', 'xoxp-1234-5678-abcdef', 'xoxp-[REDACTED]'],
  ['private key block', '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIB\nAAKCAQ==\n-----END RSA PRIVATE KEY-----\nafter',
    '-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\nafter'],
  ['cut private key block', 'x -----BEGIN PRIVATE KEY-----MIIEvQIBADAN', 'x -----BEGIN PRIVATE KEY-----[REDACTED]'],
  ['Bearer header', 'Authorization: Bearer abc.def.ghi', 'Authorization: Bearer [REDACTED]'],
  ['Basic header, any case', 'authorization:basic dXNlcjpwYXNz', 'authorization:basic [REDACTED]'],
  ['token header', 'AUTHORIZATION: token s3cr3t', 'AUTHORIZATION: token [REDACTED]'],
  ['header inside a curl command', `curl -H 'Authorization: Bearer abc' x`, `curl -H 'Authorization: Bearer [REDACTED]' x`],
  ['URL password', 'https://user:p4ss@host/x', 'https://user:[REDACTED]@host/x'],
  ['URL password with a raw @', 'git clone https://u:p@ss@github.com/a/b', 'git clone https://u:[REDACTED]@github.com/a/b'],
  ['--password=', '--password=hunter2', '--password=[REDACTED]'],
  ['--passwd=', '--passwd=hunter2', '--passwd=[REDACTED]'],
  ['--pass=', '--pass=hunter2', '--pass=[REDACTED]'],
  ['--token=', '--token=abc', '--token=[REDACTED]'],
  ['--secret=', '--secret=abc', '--secret=[REDACTED]'],
  ['--api-key=', '--api-key=abc', '--api-key=[REDACTED]'],
  ['--apikey=', '--apikey=abc', '--apikey=[REDACTED]'],
  ['--access-key=', '--access-key=abc', '--access-key=[REDACTED]'],
  ['--client-secret=', '--client-secret=abc', '--client-secret=[REDACTED]'],
  ['--auth=', '--auth=user:pw', '--auth=[REDACTED]'],
  ['--token value in text', 'deploy --token abc --verbose', 'deploy --token [REDACTED] --verbose'],
  ['quoted option value in text', `x '--password=a b' y`, `x '--password=[REDACTED]' y`],
  ['quoted env value in text', `x "DB_PASSWORD=it's me" y`, `x "DB_PASSWORD=[REDACTED]" y`],
  ['env PASSWORD', 'DB_PASSWORD=hunter2 ./run', 'DB_PASSWORD=[REDACTED] ./run'],
  ['env TOKEN, lower case', 'gh_token=abc', 'gh_token=[REDACTED]'],
  ['env SECRET', 'CLIENT_SECRET="a b" x', 'CLIENT_SECRET=[REDACTED] x'],
  ['env API_KEY', 'OPENAI_API_KEY=sk-abc', 'OPENAI_API_KEY=[REDACTED]'],
  ['env PRIVATE_KEY', 'SSH_PRIVATE_KEY=abc', 'SSH_PRIVATE_KEY=[REDACTED]'],
  ['env ACCESS_KEY', 'MINIO_ACCESS_KEY=abc', 'MINIO_ACCESS_KEY=[REDACTED]'],
  ['OpenAI-style key', 'key sk-proj-abcdefghij0123456789_-XYZ', 'key sk-[REDACTED]'],
  ['Stripe secret key', 'sk_live_abcdefghijklmnop1234', 'sk_live_[REDACTED]'],
  ['mysql -pSECRET in a shell command', 'mysql -uroot -ps3cr3t shop', 'mysql -uroot -p[REDACTED] shop'],
  ['mysqldump -p after other options, by path', 'cd / && /usr/bin/mysqldump -h db -u root -p"a b" shop | gzip', 'cd / && /usr/bin/mysqldump -h db -u root -p[REDACTED] shop | gzip'],
  ['mariadb --password=', 'mariadb --password=s3cr3t', 'mariadb --password=[REDACTED]'],
];

const KEEPS: readonly string[] = [
  'BYPASS=1', 'ssh://git@github.com/acme/shop', 'https://user@example.com/x', '--bypass', 
  '/proc/sys/net/ipv4/tcp_syncookies',
  '/proc/sys/net/ipv4/conf/all/accept_redirects',
  'sysctl -a',
  '--password-file=/run/secrets/db',
  'PASSWORD_FILE=/run/secrets/db',
  '--passwordless',
  'https://example.com/path?q=1',
  'git@github.com:acme/shop.git',
  'ghp_short',
  'AKIA-not-a-key',
  'Authorization header missing',
  'a token, a password and a secret',
  'eyJ without dots',
  'mysql -p shop',
  'ssh -p2222 host; ls -pa; mysql -u root shop',
  'disk-usage-report',
  '',
];

describe('redactText', () => {
  for (const [name, input, expected] of REDACTS) {
    test(`redacts ${name}`, () => {
      assert.equal(redactText(input), expected);
    });
  }
  for (const input of KEEPS) {
    test(`keeps ${JSON.stringify(input)}`, () => {
      assert.equal(redactText(input), input);
    });
  }
  test('is idempotent on every example', () => {
    for (const [, input] of REDACTS) {
      const once = redactText(input);
      assert.equal(redactText(once), once);
    }
  });
});

describe('redactArgv', () => {
  test('replaces the element after a bare secret option', () => {
    assert.deepEqual(
      redactArgv(['mysql', '-p', 'x', '--password', 'hunter2', '--token', 'a b', '--user', 'root']),
      ['mysql', '-p', 'x', '--password', '[REDACTED]', '--token', '[REDACTED]', '--user', 'root'],
    );
  });
  test('replaces the whole value of an element, spaces included', () => {
    assert.deepEqual(
      redactArgv(['--password=a b', 'DB_PASSWORD=c d', 'Authorization: Bearer e f', '--password-file=/run/x']),
      ['--password=[REDACTED]', 'DB_PASSWORD=[REDACTED]', 'Authorization: Bearer [REDACTED]', '--password-file=/run/x'],
    );
  });
  test('applies the text rules inside each element', () => {
    assert.deepEqual(
      redactArgv(['sh', '-c', `curl -H 'Authorization: Bearer abc' https://u:p@h/ ghp_${A36}`]),
      ['sh', '-c', `curl -H 'Authorization: Bearer [REDACTED]' https://u:[REDACTED]@h/ ghp_[REDACTED]`],
    );
  });
  test('a secret option as the last element, and repeated options', () => {
    assert.deepEqual(redactArgv(['x', '--token']), ['x', '--token']);
    assert.deepEqual(redactArgv(['--token', '--token', 'y']), ['--token', '[REDACTED]', '[REDACTED]']);
    assert.deepEqual(redactArgv(['curl', '-u', 'bob:s3cr3t', '--db-password', 'pw12345', '--github-token', 'tok12345', '--no-auth']),
      ['curl', '-u', 'bob:[REDACTED]', '--db-password', '[REDACTED]', '--github-token', '[REDACTED]', '--no-auth']);
  });
  test('mysql -pSECRET and --password=SECRET, for the MySQL/MariaDB clients only; -p VALUE is the database', () => {
    assert.deepEqual(redactArgv(['mysql', '-uroot', '-ps3cr3t', 'shop']), ['mysql', '-uroot', '-p[REDACTED]', 'shop']);
    assert.deepEqual(redactArgv(['mysql', '--password=s3cr3t']), ['mysql', '--password=[REDACTED]']);
    assert.deepEqual(redactArgv(['sudo', '/usr/bin/mysqladmin', '-pa b', 'status']), ['sudo', '/usr/bin/mysqladmin', '-p[REDACTED]', 'status']);
    assert.deepEqual(redactArgv(['docker', 'exec', 'db', 'mariadb-dump', '-pX1']), ['docker', 'exec', 'db', 'mariadb-dump', '-p[REDACTED]']);
    assert.deepEqual(redactArgv(['mysql', '-p', 'shop']), ['mysql', '-p', 'shop']);
    assert.deepEqual(redactArgv(['ssh', '-p2222', 'host']), ['ssh', '-p2222', 'host']);
    assert.deepEqual(redactArgv(['docker', 'run', '-p8080:80', 'mysql']), ['docker', 'run', '-p8080:80', 'mysql']);
    const once = redactArgv(['mysql', '-ps3cr3t']);
    assert.deepEqual(redactArgv(once), once);
  });
  test('a command line the sensor cut: the start of a token at the end of an element goes', () => {
    // bpftrace cut this argv at 384 bytes, 16 of the token's 36 characters in.
    const cut = `ghp_${A36.slice(0, 16)}`;
    assert.deepEqual(redactArgv(['git', 'push', `https://x-access-token:${cut}`], true), ['git', 'push', 'https://x-access-token:[REDACTED]']);
    assert.deepEqual(redactArgv(['deploy', cut], true), ['deploy', 'ghp_[REDACTED]']);
    assert.deepEqual(redactArgv(['sh', '-c', `echo $X; curl -H "X-Token: ${cut}`], true), ['sh', '-c', 'echo $X; curl -H "X-Token: ghp_[REDACTED]']);
    for (const fragment of ['github_pat_11ABC', 'glpat-abc', 'npm_abcd', 'AKIAIOSF', 'xoxb-1234', 'sk-proj-ab', 'sk_live_ab', 'eyJhbGciOi', 'gho_a']) {
      const prefix = /^(?:github_pat_|glpat-|npm_|AKIA|xoxb-|sk-|sk_live_|eyJ|gho_)/.exec(fragment)?.[0] ?? '';
      assert.deepEqual(redactArgv(['x', `--url=${fragment}`], true), ['x', `--url=${prefix}[REDACTED]`], fragment);
    }
    assert.deepEqual(redactArgv(['curl', 'https://bob:hunter2hu'], true), ['curl', 'https://bob:[REDACTED]']);
    // Not cut: a short word after a prefix is no token.
    assert.deepEqual(redactArgv(['deploy', 'ghp_short'], false), ['deploy', 'ghp_short']);
    const once = redactArgv(['deploy', cut, 'https://bob:hunter2hu'], true);
    assert.deepEqual(redactArgv(once, true), once);
  });
  test('is idempotent', () => {
    const argv = ['--token', 'a', '--password=b', 'c', `ghp_${A36}`, '--secret', '--token', 'z'];
    const once = redactArgv(argv);
    assert.deepEqual(redactArgv(once), once);
  });
});

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ALNUM = `${UPPER}abcdefghijklmnopqrstuvwxyz0123456789`;
const charsOf = (chars: string): fc.Arbitrary<string> => fc.constantFrom(...chars.split(''));

/** A token of each shape and the part of it that must never come out. */
const alnum = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: charsOf(ALNUM), minLength: min, maxLength: max });
const upperAlnum = fc.string({ unit: charsOf(`${UPPER}0123456789`), minLength: 16, maxLength: 16 });
const b64url = (min: number): fc.Arbitrary<string> =>
  fc.string({ unit: charsOf(`${ALNUM}-_`), minLength: min, maxLength: 40 });

interface Token { readonly text: string; readonly secret: string }
const tokenOf = (prefix: string, secret: string): Token => ({ text: `${prefix}${secret}`, secret });

const TOKEN: fc.Arbitrary<Token> = fc.oneof(
  fc.tuple(fc.constantFrom('ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'), alnum(36, 36)).map(([p, s]) => tokenOf(p, s)),
  alnum(22, 82).map((s) => tokenOf('github_pat_', s)),
  fc.tuple(fc.constantFrom('glpat-', 'gldt-', 'glrt-'), b64url(20)).map(([p, s]) => tokenOf(p, s)),
  alnum(36, 36).map((s) => tokenOf('npm_', s)),
  fc.tuple(fc.constantFrom('AKIA', 'ASIA'), upperAlnum).map(([p, s]) => tokenOf(p, s)),
  fc.tuple(fc.constantFrom('aws_secret_access_key=', 'AWS_SECRET_ACCESS_KEY: '), alnum(40, 40)).map(([p, s]) => tokenOf(p, s)),
  fc.tuple(b64url(8), b64url(8), b64url(16)).map(([h, p, s]) => tokenOf('eyJ', `${h}.eyJ${p}.${s}`)),
  fc.tuple(fc.constantFrom('xoxa-', 'xoxb-', 'xoxp-', 'xoxr-', 'xoxs-'), alnum(12, 30)).map(([p, s]) => tokenOf(p, s)),
  fc.tuple(fc.constantFrom('RSA ', 'EC ', ''), alnum(16, 40)).map(([k, s]) =>
    ({ text: `-----BEGIN ${k}PRIVATE KEY-----\n${s}\n-----END ${k}PRIVATE KEY-----`, secret: s })),
  fc.tuple(fc.constantFrom('Authorization: Bearer ', 'authorization: basic ', 'AUTHORIZATION: token '), alnum(8, 30)).map(([p, s]) => tokenOf(p, s)),
  fc.tuple(fc.constantFrom('https://', 'ftp://', 'redis://'), alnum(1, 8), alnum(8, 20)).map(([scheme, u, s]) =>
    ({ text: `${scheme}${u}:${s}@host.example/x`, secret: s })),
  fc.tuple(fc.constantFrom(...['password', 'passwd', 'pass', 'token', 'secret', 'api-key', 'apikey', 'access-key', 'client-secret', 'auth']),
    fc.constantFrom('=', ' '), alnum(8, 30)).map(([o, sep, s]) => tokenOf(`--${o}${sep}`, s)),
  fc.tuple(fc.constantFrom('DB_PASSWORD=', 'gh_token=', 'Client_Secret=', 'X_API_KEY=', 'MY_PRIVATE_KEY=', 'S3_ACCESS_KEY='), alnum(8, 30))
    .map(([k, s]) => tokenOf(k, s)),
);

/** Text around a token: anything printable, then a separator a token is normally found after or before. */
const SAFE = fc.tuple(
  fc.string({ unit: charsOf('abcdefghijklmnopqrstuvwxyz0123456789 /._,;:-'), maxLength: 30 }),
  fc.constantFrom(' ', '\n', '\t', '"', "'", '(', ')', ', ', '; '),
).map(([text, sep]) => text + sep);

const ANY_TEXT = fc.array(
  fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom(
      '--token', '--password=', '--pass', ' ', '  ', "'", '"', '\n', '=', ':', '@', '/', 'https://', 'u:', 'Authorization: ', 'Bearer ',
      'TOKEN=', 'my_secret=', '[REDACTED]', '-----BEGIN RSA PRIVATE KEY-----', '-----END RSA PRIVATE KEY-----', 'ghp_', 'eyJ', '.', 'AKIA',
      'aws_secret_access_key', 'xoxb-', 'glpat-', A36,
    ),
  ),
  { maxLength: 16 },
).map((parts) => parts.join(''));

describe('properties', () => {
  test('an embedded token of any shape never comes out', () => {
    fc.assert(
      fc.property(SAFE, TOKEN, SAFE, (before, token, after) => {
        const out = redactText(`${before}${token.text}${after}`);
        return !out.includes(token.secret);
      }),
      { numRuns: 2000 },
    );
  });
  test('tokens in argv elements, bare or after a secret option, never come out', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(SAFE, TOKEN), { minLength: 1, maxLength: 4 }), (parts) => {
        // One token's secret may happen to be plain text of another (a URL's user name "toString"
        // and a password "toString"): that is not a leak, so such draws are skipped.
        fc.pre(parts.every(([, t], i) => parts.every(([, u], j) => i === j || !u.text.replace(u.secret, '').includes(t.secret))));
        const argv = parts.flatMap(([safe, token]) => [safe, token.text]);
        const out = redactArgv(argv).join('\u0000');
        return parts.every(([, token]) => !out.includes(token.secret));
      }),
    );
  });
  test('redactText never throws and is idempotent', () => {
    fc.assert(
      fc.property(fc.oneof(ANY_TEXT, fc.string({ unit: 'binary' })), (text) => {
        const once = redactText(text);
        assert.equal(redactText(once), once);
      }),
      { numRuns: 3000 },
    );
  });
  test('redactArgv is idempotent', () => {
    fc.assert(
      fc.property(fc.array(ANY_TEXT, { maxLength: 6 }), (argv) => {
        const once = redactArgv(argv);
        assert.deepEqual(redactArgv(once), once);
      }),
      { numRuns: 1000 },
    );
  });
});

/** Tokens with a known prefix, at full length: the cut property checks what remains of them. */
const KNOWN_TOKEN: fc.Arbitrary<Token> = fc.oneof(
  fc.tuple(fc.constantFrom('ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'), alnum(36, 36)).map(([p, s]) => tokenOf(p, s)),
  fc.tuple(alnum(11, 11), alnum(59, 59)).map(([a, b]) => tokenOf('github_pat_', `${a}_${b}`)),
  fc.tuple(fc.constantFrom('glpat-', 'gldt-', 'glrt-'), b64url(20)).map(([p, s]) => tokenOf(p, s)),
  alnum(36, 36).map((s) => tokenOf('npm_', s)),
  fc.tuple(fc.constantFrom('AKIA', 'ASIA'), upperAlnum).map(([p, s]) => tokenOf(p, s)),
  fc.tuple(fc.constantFrom('xoxa-', 'xoxb-', 'xoxp-'), alnum(24, 40)).map(([p, s]) => tokenOf(p, s)),
  fc.tuple(fc.constantFrom('sk-', 'sk-proj-', 'sk-ant-api03-'), b64url(40)).map(([p, s]) => tokenOf(p, s)),
  fc.tuple(fc.constantFrom('sk_live_', 'rk_test_'), alnum(24, 24)).map(([p, s]) => tokenOf(p, s)),
  fc.tuple(b64url(8), b64url(8), b64url(16)).map(([h, p, s]) => tokenOf('eyJ', `${h}.eyJ${p}.${s}`)),
);

/** Every run of 8 characters of the secret: none may come out. */
function windowsOf(secret: string, size = 8): string[] {
  return Array.from({ length: Math.max(0, secret.length - size + 1) }, (_, i) => secret.slice(i, i + size));
}

describe('a command line cut at any point', () => {
  const [base] = replayFixture('sysctl-a.strace').closed;
  assert.ok(base);
  test('never leaves 8 characters of a known-prefix token visible, argv or guidance (property)', () => {
    fc.assert(
      fc.property(fc.array(SAFE, { maxLength: 3 }), SAFE, KNOWN_TOKEN, SAFE, fc.nat(), (elements, before, token, after, seed) => {
        const argv = ['deploy', ...elements, `${before}${token.text} ${after}`, '--verbose'];
        const joined = argv.join('\u0000');
        const start = joined.indexOf(token.text);
        // The sensor keeps a prefix of the argv block; most cuts land inside the token.
        const cutAt = seed % 4 === 0 ? seed % (joined.length + 1) : start + (seed % (token.text.length + 1));
        const cutArgv = joined.slice(0, cutAt).split('\u0000');
        const windows = windowsOf(token.secret);
        // A window that is also plain text elsewhere (fast-check likes "aaaaaaaa") is no leak.
        fc.pre(!windows.some((w) => joined.replace(token.text, '\u0001').includes(w)));
        const process = { ...base.subject.process, argv: cutArgv, argvTruncated: true };
        const detection = {
          ...base,
          subject: { ...base.subject, process, ancestry: [{ ...process, pid: 1, argv: ['sh', '-c', cutArgv.join(' ')] }] },
          guidance: { ...base.guidance, implications: `The command was ${shellQuote(cutArgv)}.` },
        };
        const out = JSON.stringify(redactDetection(detection));
        const leaked = windows.find((w) => out.includes(w));
        assert.equal(leaked, undefined, `${JSON.stringify(cutArgv)} -> ${JSON.stringify(redactDetection(detection).subject.process.argv)}`);
      }),
      { numRuns: 1500 },
    );
  });
});

describe('redactDetection', () => {
  const GH = `ghp_${A36}`;
  const ARGV = ['curl', '-H', 'Authorization: Bearer abc.def.ghi', 'https://u:p4ss@example.com/x', '--token', GH, '--password=two words'];
  const SECRETS = ['abc.def.ghi', 'p4ss', A36, 'two words'];

  function hostileDetection(): Detection {
    const [d] = replayFixture('sysctl-a.strace').closed;
    assert.ok(d);
    const command = ARGV.map((a) => `'${a}'`).join(' ');
    return {
      ...d,
      environment: { ...d.environment, ci: { provider: 'gitlab', url: 'https://ci:hunter22@gitlab.example/p/-/jobs/1', ref: 'main', step: { id: `--token ${GH}`, action: 'https://u:p4ss@example.com/a@v1', pid: 9 } } },
      subject: {
        ...d.subject,
        process: { ...d.subject.process, argv: ARGV, cwd: '/home/u/DB_PASSWORD=hunter22' },
        ancestry: [{ ...d.subject.process, pid: 1, argv: ['sh', '-c', ARGV.join(' ')] }],
      },
      guidance: {
        ...d.guidance,
        implications: `${d.guidance.implications} The command was ${command}; it was also spelled ${ARGV.join(' ')}.`,
        actions: [...d.guidance.actions, `Look at ${command}.`],
      },
    };
  }

  test('leaves no secret anywhere in the detection, guidance included', () => {
    const input = hostileDetection();
    const json = JSON.stringify(redactDetection(input));
    for (const secret of [...SECRETS, 'hunter22']) assert.ok(!json.includes(secret), `${secret} leaked`);
    assert.ok(json.includes('Authorization: Bearer [REDACTED]'));
    assert.ok(json.includes('https://u:[REDACTED]@example.com/x'));
  });

  test('does not touch the input, keeps the recipe and the evidence numbers', () => {
    const input = hostileDetection();
    const before = JSON.stringify(input);
    const out = redactDetection(input);
    assert.equal(JSON.stringify(input), before);
    assert.deepEqual(out.recipe, input.recipe);
    assert.equal(out.evidence.directoryCount, input.evidence.directoryCount);
    assert.deepEqual(out.evidence.directories, input.evidence.directories);
    assert.deepEqual(out.evidence.files.map((f) => f.path), input.evidence.files.map((f) => f.path));
    assert.deepEqual(out.subject.process.argv, [
      'curl', '-H', 'Authorization: Bearer [REDACTED]', 'https://u:[REDACTED]@example.com/x', '--token', '[REDACTED]', '--password=[REDACTED]',
    ]);
  });

  test('an argv the sensor cut 16 characters into a token: the 16 are gone everywhere', () => {
    const [d] = replayFixture('sysctl-a.strace').closed;
    assert.ok(d);
    const cut = `ghp_${A36.slice(0, 16)}`;
    const argv = ['gh', 'api', '-H', `Authorization-Token ${cut}`];
    const input: Detection = {
      ...d,
      subject: { ...d.subject, process: { ...d.subject.process, argv, argvTruncated: true, comm: `ghp_${A36.slice(0, 11)}` } },
      guidance: { ...d.guidance, actions: [`Look at ${shellQuote(argv)}.`] },
    };
    const json = JSON.stringify(redactDetection(input));
    assert.ok(!json.includes(A36.slice(0, 8)), json);
    assert.ok(!json.includes(A36.slice(8, 16)), json);
    assert.deepEqual(redactDetection(input).subject.process.argv, ['gh', 'api', '-H', 'Authorization-Token ghp_[REDACTED]']);
    assert.equal(redactDetection(input).subject.process.comm, 'ghp_[REDACTED]');
  });

  test('container fields of the subject, ancestry and members: labels whose key names a secret entirely, token shapes in any label, name, image and pod', () => {
    const [d] = replayFixture('sysctl-a.strace').closed;
    assert.ok(d);
    const vault = 's.Qf1sT0kenValue9';
    const container = (n: number): NonNullable<Detection['subject']['process']['container']> => ({
      runtime: 'podman', id: 'a'.repeat(64), name: `web-${GH}`, image: `registry.example/app:${String(n)}`, imageDigest: null,
      labels: { 'com.example.db-password': 'hunter22', 'vault.token': vault, note: `clone https://ci:p4ssw0rd@git.example/x with ${GH}`, app: 'web' },
      pod: { name: 'web-7d9f', namespace: 'shop', uid: 'uid-1', labels: { AWS_SECRET_ACCESS_KEY: AWS_SECRET, tier: 'front' } },
    });
    const input: Detection = {
      ...d,
      subject: {
        ...d.subject,
        process: { ...d.subject.process, container: container(1), argv: ['sh', '-c', `echo ${vault}`] },
        ancestry: [{ ...d.subject.process, pid: 2, container: container(2) }],
        members: [{ ...d.subject.process, pid: 3, container: container(3) }],
      },
    };
    const out = redactDetection(input);
    const json = JSON.stringify(out);
    for (const secret of ['hunter22', vault, 'p4ssw0rd', GH.slice(4), AWS_SECRET]) assert.ok(!json.includes(secret), `${secret} leaked: ${json}`);
    for (const p of [out.subject.process, ...out.subject.ancestry, ...out.subject.members]) {
      assert.deepEqual(p.container?.labels, {
        'com.example.db-password': '[REDACTED]', 'vault.token': '[REDACTED]', note: 'clone https://ci:[REDACTED]@git.example/x with ghp_[REDACTED]', app: 'web',
      });
      assert.deepEqual(p.container.pod?.labels, { AWS_SECRET_ACCESS_KEY: '[REDACTED]', tier: 'front' });
      assert.equal(p.container.name, 'web-ghp_[REDACTED]');
      assert.match(p.container.image ?? '', /^registry\.example\/app:\d$/);
      assert.equal(p.container.id, 'a'.repeat(64));
    }
    // A label's secret is gone from the command line too.
    assert.deepEqual(out.subject.process.argv, ['sh', '-c', 'echo [REDACTED]']);
    assert.deepEqual(redactDetection(out), out, 'idempotent');
  });

  test('a detection without secrets comes out equal', () => {
    const [d] = replayFixture('audit-cat-loop.strace').closed;
    assert.ok(d);
    assert.deepEqual(redactDetection(d), d);
  });
});
