import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/runtime-flags.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('the bin shebang and npm start run node with the runtime flags', () => {
  const shebang = readFileSync(`${root}src/main.ts`, 'utf8').split('\n')[0]!;
  assert.equal(shebang, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  const start = JSON.parse(readFileSync(`${root}package.json`, 'utf8')).scripts.start as string;
  assert.ok(start.includes(`node ${NODE_FLAGS.join(' ')} dist/src/main.js`), start);
});
