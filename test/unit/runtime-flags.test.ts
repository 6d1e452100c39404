import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { commandPrefix } from '../../src/runtime-flags.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('the bin shebang and npm start run node the way runtime-flags.ts says', () => {
  assert.equal(commandPrefix(), 'MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --expose-gc');
  const shebang = readFileSync(`${root}src/main.ts`, 'utf8').split('\n')[0]!;
  assert.equal(shebang, `#!/usr/bin/env -S ${commandPrefix()}`);
  const start = JSON.parse(readFileSync(`${root}package.json`, 'utf8')).scripts.start as string;
  assert.ok(start.includes(`${commandPrefix()} dist/src/main.js`), start);
});

test('uploads pace garbage collection even when node is started without --expose-gc', async () => {
  const { execFileSync } = await import('node:child_process');
  const pacer = new URL('../../src/storage/garbage-pacer.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(pacer)}); console.log(String(m.gcPacing), typeof globalThis.gc); m.noteReceived(16 * 1024 * 1024);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(out.trim(), 'true undefined', 'paced, and no gc() leaked onto the global object');
});
