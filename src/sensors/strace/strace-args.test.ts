import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAnnotationPath, decodeFdArg, decodeStringArg, decodeStringArray, scanArgs } from './strace-args.ts';

test('arguments split at top-level commas only', () => {
  const text = 'AT_FDCWD</tmp/a,b>, "x, y)", {st_mode=S_IFDIR|0555, st_size=0, ...}, [1, 2], 0) = 0';
  const r = scanArgs(text, 0);
  assert.ok(r);
  assert.deepEqual(r.args, ['AT_FDCWD</tmp/a,b>', '"x, y)"', '{st_mode=S_IFDIR|0555, st_size=0, ...}', '[1, 2]', '0']);
  assert.equal(text.slice(r.end), ') = 0');
});

test('annotations nest and may hold "->" inside brackets', () => {
  const r = scanArgs('1</dev/null<char 1:3>>, 5<TCP:[127.0.0.1:80->127.0.0.1:5555]>)', 0);
  assert.deepEqual(r?.args, ['1</dev/null<char 1:3>>', '5<TCP:[127.0.0.1:80->127.0.0.1:5555]>']);
});

test('an empty argument list', () => {
  assert.deepEqual(scanArgs(') = 1234', 0)?.args, []);
});

test('unbalanced text is reported, not guessed', () => {
  assert.equal(scanArgs('"unterminated, 0', 0), undefined);
  assert.equal(scanArgs('3</proc/sys/net', 0), undefined);
});

test('string arguments decode escapes and notice truncation', () => {
  assert.deepEqual(decodeStringArg('"a\\nb"'), { value: 'a\nb', truncated: false });
  assert.deepEqual(decodeStringArg('"abc"...'), { value: 'abc', truncated: true });
  assert.equal(decodeStringArg('NULL'), undefined);
  assert.equal(decodeStringArg('0x7ffc63a233a0'), undefined);
});

test('fd arguments give the number and the kernel path', () => {
  assert.deepEqual(decodeFdArg('3</proc/sys/net>'), { fd: 3, path: '/proc/sys/net' });
  assert.deepEqual(decodeFdArg('AT_FDCWD</tmp/x>'), { fd: 'AT_FDCWD', path: '/tmp/x' });
  assert.deepEqual(decodeFdArg('AT_FDCWD'), { fd: 'AT_FDCWD' });
  assert.deepEqual(decodeFdArg('1<pipe:[4132]>'), { fd: 1 });
  assert.equal(decodeFdArg('{st_mode=S_IFDIR}'), undefined);
});

test('annotation paths drop device suffixes and " (deleted)", and decode escapes', () => {
  assert.equal(decodeAnnotationPath('</dev/null<char 1:3>>'), '/dev/null');
  assert.equal(decodeAnnotationPath('</tmp/gone (deleted)>'), '/tmp/gone');
  assert.equal(decodeAnnotationPath('</tmp/li\\nnk\\76core>'), '/tmp/li\nnk>core');
  assert.equal(decodeAnnotationPath('<socket:[123]>'), undefined);
});

test('argv arrays decode, with truncation marked', () => {
  assert.deepEqual(decodeStringArray('["cat", "a b", "\\"q\\""]'), { values: ['cat', 'a b', '"q"'], truncated: false });
  assert.deepEqual(decodeStringArray('["sh", "-c", "long"...]'), { values: ['sh', '-c', 'long'], truncated: true });
  assert.deepEqual(decodeStringArray('["a", "b", ...]'), { values: ['a', 'b'], truncated: true });
  assert.equal(decodeStringArray('0x55f5'), undefined);
});
