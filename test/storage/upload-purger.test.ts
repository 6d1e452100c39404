import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { InMemoryDriver } from '../../src/storage/drivers/inmemory.js';
import { purgeUploads } from '../../src/storage/upload-purger.js';
import { pathFor } from '../../src/storage/paths.js';

test('purges sessions older than the limit, keeps newer ones and finished blobs', async () => {
  const driver = wrapDriver(new InMemoryDriver());
  const now = Date.parse('2026-11-24T00:00:00Z');
  const session = async (name: string, id: string, started: string): Promise<void> => {
    await driver.putContent(pathFor({ kind: 'uploadStartedAt', name, id }), Buffer.from(started));
    await driver.putContent(pathFor({ kind: 'uploadData', name, id }), Buffer.from('partial'));
  };
  await session('a', 'old', '2026-11-10T00:00:00Z');
  await session('a/nested', 'old2', '2026-11-10T00:00:00.123Z');
  await session('a', 'fresh', '2026-11-23T23:00:00Z');
  await session('b', 'garbage', 'not a date');
  const layer = { algorithm: 'sha256', encoded: 'a'.repeat(64) };
  await driver.putContent(pathFor({ kind: 'layerLink', name: 'a', digest: layer }), Buffer.from(`sha256:${layer.encoded}`));

  const limit = new Date(now - 7 * 24 * 3600 * 1000);
  const dry = await purgeUploads(driver, limit, { dryRun: true });
  assert.equal(dry.seen, 4);
  assert.equal(dry.purged.length, 3);
  assert.ok(await driver.stat(pathFor({ kind: 'uploadDir', name: 'a', id: 'old' })), 'a dry run deletes nothing');

  const result = await purgeUploads(driver, limit);
  assert.deepEqual(result.purged.sort(), [
    pathFor({ kind: 'uploadDir', name: 'a', id: 'old' }),
    pathFor({ kind: 'uploadDir', name: 'a/nested', id: 'old2' }),
    pathFor({ kind: 'uploadDir', name: 'b', id: 'garbage' }),
  ].sort());
  assert.deepEqual(await driver.list(pathFor({ kind: 'uploadsRoot', name: 'a' })), [pathFor({ kind: 'uploadDir', name: 'a', id: 'fresh' })]);
  assert.ok(await driver.stat(pathFor({ kind: 'layerLink', name: 'a', digest: layer })), 'links are untouched');
});

test('an empty store purges nothing', async () => {
  assert.deepEqual(await purgeUploads(wrapDriver(new InMemoryDriver()), new Date()), { purged: [], seen: 0 });
});

test('the schedule purges in the background and stops', async () => {
  const { scheduleUploadPurging } = await import('../../src/storage/upload-purge-schedule.js');
  const driver = wrapDriver(new InMemoryDriver());
  await driver.putContent(pathFor({ kind: 'uploadStartedAt', name: 'x', id: 'old' }), Buffer.from('2000-01-01T00:00:00Z'));
  const lines: string[] = [];
  const logger = { info: (m: string) => lines.push(m), error: (m: string) => lines.push(`error: ${m}`) };
  const stop = scheduleUploadPurging(driver, { ageMs: 3600_000, intervalMs: 60_000, dryRun: false, firstRunMs: 5 }, logger);
  try {
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(lines, ['upload purge: deleted 1 of 1 upload sessions']);
    assert.deepEqual(await driver.list(pathFor({ kind: 'uploadsRoot', name: 'x' })), []);
  } finally {
    stop();
  }
});
