import assert from 'node:assert/strict';
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { documentTrust, readDocumentFile, type DocumentTrust } from './document-file.ts';

const IS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;
const notRoot = IS_ROOT ? false : 'needs root: the fixtures belong to root and to nobody (chown)';
const ROOT_ONLY: DocumentTrust = { owners: [0] };
const base = realpathSync(mkdtempSync(join(tmpdir(), 'tripline-document-file-')));
after(() => { rmSync(base, { recursive: true, force: true }); });
let n = 0;
function fresh(mode = 0o755): string {
  const dir = join(base, String(++n));
  mkdirSync(dir);
  chmodSync(dir, mode);
  return dir;
}

function yaml(dir: string, name = 'tripline.yaml', mode = 0o644, uid = 0): string {
  const path = join(dir, name);
  writeFileSync(path, 'fail_on: low\n');
  chmodSync(path, mode);
  chownSync(path, uid, uid);
  return path;
}

function accepted(path: string, trust: DocumentTrust = ROOT_ONLY): void {
  const r = readDocumentFile(path, trust);
  assert.ok('text' in r, `refused: ${JSON.stringify(r)}`);
  assert.equal(r.text, 'fail_on: low\n');
}

function refused(path: string, why: RegExp, hint: RegExp, trust: DocumentTrust = ROOT_ONLY): void {
  const r = readDocumentFile(path, trust);
  assert.ok('error' in r, `read although ${String(why)}`);
  assert.equal(r.unsafe, true, r.error);
  assert.match(r.error, why);
  assert.match(r.hint ?? '', hint);
}

void describe('documentTrust', () => {
  void test('as root: root and the sudo user; otherwise no rule', () => {
    assert.deepEqual(documentTrust({}, 0), { owners: [0] });
    assert.deepEqual(documentTrust({ SUDO_UID: '1000' }, 0), { owners: [0, 1000] });
    assert.deepEqual(documentTrust({ SUDO_UID: '1000; rm' }, 0), { owners: [0] });
    assert.equal(documentTrust({ SUDO_UID: '1000' }, 1000), undefined);
  });
});

void describe('readDocumentFile with the trust rule', () => {
  void test('root\'s 0644 file in root\'s 0755 directory is read', { skip: notRoot }, () => {
    accepted(yaml(fresh()));
  });

  void test('a file of another user is refused, named, with the chown to fix it', { skip: notRoot }, () => {
    const path = yaml(fresh(), 'tripline.yaml', 0o644, NOBODY);
    refused(path, new RegExp(`${path} belongs to uid 65534, not to root`), new RegExp(`chown root ${path} && chmod go-w ${path}`));
    // Without the rule (not root), a user's own files are read as before.
    assert.ok('text' in readDocumentFile(path));
  });

  void test('the sudo user\'s file is read when SUDO_UID names them', { skip: notRoot }, () => {
    accepted(yaml(fresh(), 'tripline.yaml', 0o644, NOBODY), documentTrust({ SUDO_UID: String(NOBODY) }, 0));
  });

  void test('a file writable by group or others is refused', { skip: notRoot }, () => {
    const dir = fresh();
    refused(yaml(dir, 'a.yaml', 0o664), /writable by its group/, /chmod go-w/);
    refused(yaml(dir, 'b.yaml', 0o646), /writable by everyone/, /chmod go-w/);
  });

  void test('a file in a world-writable directory without the sticky bit is refused, even root\'s', { skip: notRoot }, () => {
    const dir = fresh(0o777);
    refused(yaml(dir), new RegExp(`the directory ${dir} on its path is writable by group and others`), /chmod go-w/);
  });

  void test('in a sticky world-writable directory (like /tmp): root\'s file is read, another user\'s is not', { skip: notRoot }, () => {
    const dir = fresh(0o1777);
    accepted(yaml(dir, 'root.yaml'));
    refused(yaml(dir, 'nobody.yaml', 0o644, NOBODY), /belongs to uid 65534/, /chown root/);
  });

  void test('a directory of another user on the path is refused', { skip: notRoot }, () => {
    const dir = fresh();
    const theirs = join(dir, 'theirs');
    mkdirSync(theirs);
    chownSync(theirs, NOBODY, NOBODY);
    refused(yaml(theirs), new RegExp(`the directory ${theirs} belongs to uid 65534`), new RegExp(`chown root ${theirs}`));
  });

  void test('a symlink another user planted is refused even when it points at root\'s file; root\'s own link is followed', { skip: notRoot }, () => {
    const dir = fresh(0o1777);
    const target = yaml(fresh());
    symlinkSync(target, join(dir, 'planted.yaml'));
    lchownSync(join(dir, 'planted.yaml'), NOBODY, NOBODY);
    refused(join(dir, 'planted.yaml'), /the symbolic link .*planted\.yaml belongs to uid 65534/, /chown -h root/);
    symlinkSync(target, join(dir, 'ours.yaml'));
    accepted(join(dir, 'ours.yaml'));
  });

  void test('a link to another user\'s file is refused at the file', { skip: notRoot }, () => {
    const theirs = yaml(fresh(), 'theirs.yaml', 0o644, NOBODY);
    const dir = fresh();
    symlinkSync(theirs, join(dir, 'tripline.yaml'));
    refused(join(dir, 'tripline.yaml'), new RegExp(`${theirs} belongs to uid 65534`), /chown root/);
  });
});
