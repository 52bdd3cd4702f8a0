import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, constants, lchownSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { appendOutputFile, openOutputFile, OutputFileError } from './output-file.ts';

const IS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;
const notRoot = IS_ROOT ? false : 'needs root (chown to another user)';
const base = realpathSync(mkdtempSync(join(tmpdir(), 'tripline-output-file-')));
after(() => { rmSync(base, { recursive: true, force: true }); });
let n = 0;
function fresh(): string {
  const dir = join(base, String(++n));
  mkdirSync(dir);
  return dir;
}

function write(path: string, text: string, append = false): void {
  const fd = openOutputFile(path, { append });
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

function refused(path: string, reason: RegExp): void {
  assert.throws(() => openOutputFile(path), (error: unknown) => {
    assert.ok(error instanceof OutputFileError, String(error));
    assert.ok(error.message.includes(path), `the message names the file: ${error.message}`);
    assert.match(error.message, reason);
    return true;
  });
}

void describe('openOutputFile', () => {
  void test('a final symlink is refused and its target left untouched', () => {
    const dir = fresh();
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(dir, 'out.jsonl'));
    refused(join(dir, 'out.jsonl'), /symbolic link/);
    assert.throws(() => openOutputFile(join(dir, 'out.jsonl'), { append: true }), OutputFileError);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  });

  void test('a dangling final symlink is refused and nothing is created at its target', () => {
    const dir = fresh();
    symlinkSync(join(dir, 'created'), join(dir, 'out.jsonl'));
    refused(join(dir, 'out.jsonl'), /symbolic link/);
    assert.throws(() => statSync(join(dir, 'created')));
  });

  void test('another user\'s file in a sticky world-writable directory is refused', { skip: notRoot }, () => {
    const shared = join(fresh(), 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const planted = join(shared, 'out.sarif');
    writeFileSync(planted, 'planted\n');
    chownSync(planted, NOBODY, NOBODY);
    refused(planted, /belongs to uid 65534 and sits in the world-writable directory/);
    assert.equal(readFileSync(planted, 'utf8'), 'planted\n');
    // Our own file there is fine.
    const own = join(shared, 'own.sarif');
    write(own, 'ours\n');
    assert.equal(readFileSync(own, 'utf8'), 'ours\n');
  });

  void test('a directory link another user planted in a sticky world-writable directory is not followed', { skip: notRoot }, () => {
    const top = fresh();
    const shared = join(top, 'shared');
    const target = join(top, 'target');
    mkdirSync(shared);
    mkdirSync(target);
    chmodSync(shared, 0o1777);
    symlinkSync(target, join(shared, 'link'));
    // The link itself, not its target, belongs to nobody.
    lchownSync(join(shared, 'link'), NOBODY, NOBODY);
    refused(join(shared, 'link', 'out.jsonl'), /belongs to uid 65534/);
    assert.throws(() => statSync(join(target, 'out.jsonl')));
  });

  void test('a path through a world-writable directory without the sticky bit is refused', () => {
    const open = join(fresh(), 'open');
    mkdirSync(join(open, 'sub'), { recursive: true });
    chmodSync(open, 0o777);
    refused(join(open, 'sub', 'out.jsonl'), /anyone can write and has no sticky bit/);
  });

  void test('a file with another hard link is refused and the other name keeps its content', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'other'), 'keep\n');
    linkSync(join(dir, 'other'), join(dir, 'out.jsonl'));
    refused(join(dir, 'out.jsonl'), /2 hard links/);
    assert.equal(readFileSync(join(dir, 'other'), 'utf8'), 'keep\n');
  });

  void test('a new file is created with mode 0600 whatever the umask', () => {
    const dir = fresh();
    const old = process.umask(0);
    try {
      write(join(dir, 'new.jsonl'), 'x\n');
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(join(dir, 'new.jsonl')).mode & 0o7777, 0o600);
  });

  void test('an existing file of ours is emptied (or appended to) and loses group write and others\' access', () => {
    const dir = fresh();
    const file = join(dir, 'out.jsonl');
    writeFileSync(file, 'old\n');
    chmodSync(file, 0o666);
    write(file, 'new\n');
    assert.equal(readFileSync(file, 'utf8'), 'new\n');
    assert.equal(statSync(file).mode & 0o7777, 0o640);
    write(file, 'more\n', true);
    assert.equal(readFileSync(file, 'utf8'), 'new\nmore\n');
    appendOutputFile(file, 'last\n');
    assert.equal(readFileSync(file, 'utf8'), 'new\nmore\nlast\n');
  });

  void test('another user\'s file in a directory only we can write keeps its mode', { skip: notRoot }, () => {
    const dir = fresh();
    const file = join(dir, 'theirs.jsonl');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    chownSync(file, NOBODY, NOBODY);
    write(file, 'x\n');
    assert.equal(statSync(file).mode & 0o7777, 0o644);
    assert.equal(statSync(file).uid, NOBODY);
  });

  void test('a relative path through a symlinked directory we own resolves as usual', () => {
    const dir = fresh();
    mkdirSync(join(dir, 'real'));
    symlinkSync('real', join(dir, 'alias'));
    write(join(dir, 'alias', '..', 'alias', 'out.jsonl'), 'y\n');
    assert.equal(readFileSync(join(dir, 'real', 'out.jsonl'), 'utf8'), 'y\n');
  });

  void test('a FIFO with a reader is refused, not written', () => {
    const dir = fresh();
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      refused(fifo, /a FIFO/);
    } finally {
      closeSync(reader);
    }
  });

  void test('a FIFO without a reader does not block', () => {
    const dir = fresh();
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // In a child: a blocking open would hang this process, and the timeout would not fire.
    const script = `import { openOutputFile } from ${JSON.stringify(new URL('./output-file.ts', import.meta.url).href)};
try { openOutputFile(${JSON.stringify(fifo)}); console.log('opened'); } catch (e) { console.log(e.message); }`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.signal, null, `the open blocked (killed after 10 s): ${r.stderr}`);
    assert.match(r.stdout, /refusing to write .*fifo: it is a FIFO or socket with nothing reading it/);
  });

  void test('/dev/null is accepted; a directory and a terminal-like device are not', () => {
    closeSync(openOutputFile('/dev/null'));
    refused(fresh(), /directory/);
    refused('/dev/zero', /character device/);
  });

  void test('a missing directory is named in the error', () => {
    const dir = fresh();
    refused(join(dir, 'nope', 'out.jsonl'), /cannot use its directory.*nope/);
  });
});
