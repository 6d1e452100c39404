import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileExclusive, writeFileAtomic } from '../../src/fs/atomic-file.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'regate-atomic-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('writeFileAtomic: a new file gets the mode, a replaced one keeps its own when asked', () =>
  withDir(async (dir) => {
    const path = join(dir, 'users');
    await writeFileAtomic(path, 'one\n', { mode: 0o640 });
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    await writeFileAtomic(path, 'two\n', { mode: 0o600, keepExisting: true });
    assert.equal(await readFile(path, 'utf8'), 'two\n');
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    await writeFileAtomic(path, 'three\n', { mode: 0o600 });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['users'], 'no temp file is left behind');
  }));

test('writeFileAtomic: a symlink is followed only when asked', () =>
  withDir(async (dir) => {
    const target = join(dir, 'real');
    const link = join(dir, 'link');
    await writeFile(target, 'old');
    await symlink(target, link);
    await writeFileAtomic(link, 'new', { followSymlink: true });
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.equal(await readFile(target, 'utf8'), 'new');
    await writeFileAtomic(link, 'replaced');
    assert.ok(!(await lstat(link)).isSymbolicLink());
    assert.equal(await readFile(target, 'utf8'), 'new');
  }));

test('writeFileAtomic: a failed write leaves the old file and no temp file', () =>
  withDir(async (dir) => {
    const path = join(dir, 'f');
    await writeFile(path, 'kept');
    await assert.rejects(writeFileAtomic(join(dir, 'missing-dir', 'f'), 'x'));
    await assert.rejects(writeFileAtomic(path, 'x', { tempName: () => 'f' }), /EEXIST/);
    assert.equal(await readFile(path, 'utf8'), 'kept');
  }));

test('createFileExclusive never overwrites', () =>
  withDir(async (dir) => {
    const path = join(dir, 'first');
    assert.equal(await createFileExclusive(path, 'a', 0o600), true);
    assert.equal(await createFileExclusive(path, 'b', 0o600), false);
    assert.equal(await readFile(path, 'utf8'), 'a');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['first']);
  }));
