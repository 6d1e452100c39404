// The usage tally (unique and shared bytes per repository) and `regate du`'s table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tallyUsage } from '../../src/storage/usage-report.js';
import { usageTable } from '../../src/cli/du-command.js';

test('a blob is unique to the one repository whose manifests name it, shared when two do; unstored blobs count nowhere', () => {
  const sizes = new Map([['d:base', 1000], ['d:app', 300], ['d:other', 50]]);
  const usage = tallyUsage(
    new Map([
      ['team/app', new Set(['d:base', 'd:app', 'd:gone'])],
      ['team/other', new Set(['d:base', 'd:other'])],
      ['empty', new Set<string>()],
    ]),
    (d) => sizes.get(d),
  );
  assert.deepEqual(usage, {
    'team/app': { unique: 300, shared: 1000, blobs: 2 },
    'team/other': { unique: 50, shared: 1000, blobs: 2 },
    empty: { unique: 0, shared: 0, blobs: 0 },
  });
});

test('regate du prints the largest unique holders first, and says how many it left out', () => {
  const table = usageTable({ small: { unique: 10, shared: 0, blobs: 1 }, big: { unique: 5 * 1024 * 1024, shared: 2048, blobs: 3 }, mid: { unique: 4096, shared: 0, blobs: 2 } }, 2);
  const lines = table.split('\n');
  assert.match(lines[0]!, /^repository\s+unique\s+shared\s+blobs$/);
  assert.match(lines[1]!, /^big\s+5\.0 MiB\s+2\.0 KiB\s+3$/);
  assert.match(lines[2]!, /^mid\s/);
  assert.equal(lines[3], '… and 1 more repositories');
});
