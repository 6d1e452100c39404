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
