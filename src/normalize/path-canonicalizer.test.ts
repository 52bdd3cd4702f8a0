import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isUnder } from '../model/canonical-path.ts';
import { canonicalizePath, type CanonicalContext, type LinkResolver } from './path-canonicalizer.ts';

function resolver(over: Partial<LinkResolver> & { links?: Record<string, string> } = {}): LinkResolver {
  const links = over.links ?? {};
  return {
    cwdOf: over.cwdOf ?? ((pid) => (pid === 100 ? '/proc/sys/net' : undefined)),
    rootOf: over.rootOf ?? (() => '/'),
    fdOf: over.fdOf ?? ((pid, fd) => (pid === 100 && fd === 3 ? '/proc/sys/net/ipv4' : undefined)),
    symlinkAt: (p) => links[p],
    hasSymlinks: Object.keys(links).length > 0,
  };
}

const ctx: CanonicalContext = { pid: 100, tid: 101, links: resolver() };

test('relative paths resolve against the base; dots and slashes collapse', () => {
  assert.equal(canonicalizePath('core/somaxconn', '/proc/sys/net', ctx), '/proc/sys/net/core/somaxconn');
  assert.equal(canonicalizePath('//proc/./sys/../sys/net/ipv4//ip_forward', '/tmp', ctx), '/proc/sys/net/ipv4/ip_forward');
  assert.equal(canonicalizePath('../../proc/sys/net/', '/tmp/x', ctx), '/proc/sys/net');
  assert.equal(canonicalizePath('/..', '/', ctx), '/');
  assert.equal(canonicalizePath('', '/proc/sys/net', ctx), '/proc/sys/net');
});

test('/proc/self and /proc/thread-self are the calling process and thread', () => {
  assert.equal(canonicalizePath('/proc/self/status', '/', ctx), '/proc/100/status');
  assert.equal(canonicalizePath('/proc/thread-self/comm', '/', ctx), '/proc/100/task/101/comm');
});

test('root and cwd magic links of self, another pid and a task', () => {
  assert.equal(canonicalizePath('/proc/self/root/proc/sys/net/core', '/', ctx), '/proc/sys/net/core');
  assert.equal(canonicalizePath('/proc/1/root/proc/sys/net/ipv4/ip_forward', '/', ctx), '/proc/sys/net/ipv4/ip_forward');
  assert.equal(canonicalizePath('/proc/thread-self/root/proc/sys/net/unix', '/', ctx), '/proc/sys/net/unix');
  assert.equal(canonicalizePath('/proc/100/task/101/root/proc/sys/net', '/', ctx), '/proc/sys/net');
  assert.equal(canonicalizePath('/proc/self/cwd/core/somaxconn', '/', ctx), '/proc/sys/net/core/somaxconn');
  assert.equal(canonicalizePath('/proc/self/root/proc/self/root/proc/sys/net', '/', ctx), '/proc/sys/net');
});

test('".." after a magic link climbs from its target, as the kernel does', () => {
  assert.equal(canonicalizePath('/proc/self/cwd/../net/core', '/', ctx), '/proc/sys/net/core');
  assert.equal(canonicalizePath('/proc/self/root/../proc/sys/net', '/', ctx), '/proc/sys/net');
});

test('/proc/<pid>/fd/N follows a known fd, and stays literal for an unknown one', () => {
  assert.equal(canonicalizePath('/proc/self/fd/3/ip_forward', '/', ctx), '/proc/sys/net/ipv4/ip_forward');
  assert.equal(canonicalizePath('/proc/self/fd/9/x', '/', ctx), '/proc/100/fd/9/x');
  assert.equal(canonicalizePath('/dev/fd/3/ip_forward', '/', ctx), '/proc/sys/net/ipv4/ip_forward');
  assert.equal(canonicalizePath('/proc/555/cwd/x', '/', ctx), '/proc/555/cwd/x');
});

test('learned symlinks are followed component by component', () => {
  const links = resolver({ links: { '/tmp/n': '/proc/sys/net' } });
  const c: CanonicalContext = { pid: 1, tid: 1, links };
  assert.equal(canonicalizePath('/tmp/n/core/somaxconn', '/', c), '/proc/sys/net/core/somaxconn');
  assert.equal(canonicalizePath('n/core/../ipv4', '/tmp', c), '/proc/sys/net/ipv4');
  // ".." right after the link climbs from the target, not from /tmp
  assert.equal(canonicalizePath('n/../n/ipv4', '/tmp', c), '/proc/sys/n/ipv4');
  // lstat/readlink of the link itself does not follow it
  assert.equal(canonicalizePath('/tmp/n', '/', c, false), '/tmp/n');
  assert.equal(canonicalizePath('/tmp/n/', '/', c, false), '/tmp/n');
});

test('a link loop stops after the kernel limit instead of spinning', () => {
  const links = resolver({ links: { '/a': '/proc/b', '/proc/b': '/a' } });
  const out = canonicalizePath('/a/x', '/', { pid: 1, tid: 1, links });
  assert.ok(out.endsWith('/x'));
});

test('isUnder respects component boundaries', () => {
  assert.equal(isUnder('/proc/sys/net', '/proc/sys/net'), true);
  assert.equal(isUnder('/proc/sys/net/core', '/proc/sys/net'), true);
  assert.equal(isUnder('/proc/sys/network', '/proc/sys/net'), false);
  assert.equal(isUnder('/anything', '/'), true);
});

const segment = fc.constantFrom('a', 'b', 'sys', 'net', '.', '..', '', 'x y', 'é');
const relPath = fc.array(segment, { maxLength: 12 }).map((s) => s.join('/'));
const absBase = fc.array(fc.constantFrom('a', 'b', 'tmp', 'home'), { maxLength: 5 }).map((s) => '/' + s.join('/'));

test('property: without links, the result is the lexical resolution', () => {
  fc.assert(
    fc.property(relPath, absBase, fc.boolean(), (p, base, absolute) => {
      const path = absolute ? `/${p}` : p;
      assert.equal(canonicalizePath(path, base, ctx), posix.resolve(base, path));
    }),
    { numRuns: 1000 },
  );
});

test('property: results are absolute, clean and idempotent', () => {
  const anySegment = fc.oneof(segment, fc.constantFrom('proc', 'self', 'thread-self', 'root', 'cwd', 'fd', '3', '100', 'task', '101'));
  fc.assert(
    fc.property(fc.array(anySegment, { maxLength: 14 }), absBase, (segments, base) => {
      const out = canonicalizePath(segments.join('/'), base, ctx);
      assert.ok(out.startsWith('/'));
      assert.ok(out === '/' || !out.endsWith('/'));
      if (out !== '/') assert.ok(!out.split('/').slice(1).some((c) => c === '' || c === '.' || c === '..'), out);
      assert.equal(canonicalizePath(out, '/', ctx), out);
    }),
    { numRuns: 1000 },
  );
});

test('property: prefixing an absolute path with a root magic link changes nothing', () => {
  const prefixes = fc.constantFrom('/proc/self/root', '/proc/1/root', '/proc/thread-self/root', '//proc/./self/root/', '/proc/100/task/101/root');
  fc.assert(
    fc.property(prefixes, relPath, (prefix, p) => {
      assert.equal(canonicalizePath(`${prefix}/${p}`, '/x', ctx), canonicalizePath(`/${p}`, '/x', ctx));
    }),
    { numRuns: 1000 },
  );
});
