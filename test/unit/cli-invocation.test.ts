// The command regate's hints tell users to type must work from where they are: `npx regate` in the
// checkout right after `npm install`, `regate` once that very build is on the PATH (npm link, a
// global install, the container image), `node <main.js>` anywhere else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { cliCommand, MAIN_SCRIPT } from '../../src/cli-invocation.js';
import { makeTempDir } from '../support/processes.js';

const packageRoot = resolve(dirname(realpathSync(MAIN_SCRIPT)), '..', '..');

test('in the checkout, with no regate on the PATH: npx regate', () => {
  assert.equal(cliCommand({ cwd: packageRoot, pathEnv: '' }), 'npx regate');
});

test('anywhere else: node with the absolute path of this build', () => {
  const tmp = makeTempDir('regate-cli-invocation-');
  try {
    assert.equal(cliCommand({ cwd: tmp.path, pathEnv: '/usr/bin:/bin' }), `node ${realpathSync(MAIN_SCRIPT)}`);
  } finally {
    tmp.remove();
  }
});

test('a regate on the PATH that is this build (a symlink, as npm link makes) wins; another build does not', () => {
  const tmp = makeTempDir('regate-cli-invocation-');
  try {
    // A stand-in build: dist/src/main.js under a package root, executable as npm makes a bin.
    const main = join(tmp.path, 'pkg', 'dist', 'src', 'main.js');
    mkdirSync(dirname(main), { recursive: true });
    writeFileSync(main, '#!/usr/bin/env node\n', { mode: 0o755 });
    writeFileSync(join(tmp.path, 'pkg', 'package.json'), '{"name":"regate"}\n');
    const bin = join(tmp.path, 'bin');
    mkdirSync(bin);
    symlinkSync(main, join(bin, 'regate'));
    assert.equal(cliCommand({ cwd: tmp.path, pathEnv: `${join(tmp.path, 'empty')}:${bin}`, mainScript: main }), 'regate');
    assert.equal(cliCommand({ cwd: join(tmp.path, 'pkg'), pathEnv: bin, mainScript: main }), 'regate', 'the PATH form is preferred where it works');

    const other = join(tmp.path, 'other', 'dist', 'src', 'main.js');
    mkdirSync(dirname(other), { recursive: true });
    writeFileSync(other, '#!/usr/bin/env node\n', { mode: 0o755 });
    assert.equal(cliCommand({ cwd: join(tmp.path, 'other'), pathEnv: bin, mainScript: other }), 'node dist/src/main.js', 'relative to a cwd above the build');
  } finally {
    tmp.remove();
  }
});
