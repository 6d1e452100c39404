// The paged catalog over a real filesystem driver: lexical order where depth-first order is not
// ("a" < "a-c" < "a/b"), `last` anywhere (a name, between names, inside a subtree), pages that stop
// early, filtered names not counted, internals and non-repositories skipped, and a page that opens
// only the directories it needs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repositoryPage, subtreeBeforeOrAt } from '../../src/storage/catalog.js';
import { FilesystemDriver } from '../../src/storage/drivers/filesystem.js';
import { wrapDriver } from '../../src/storage/base-driver.js';
import type { StorageDriver } from '../../src/storage/driver.js';

const NAMES = ['a', 'a-c', 'a/b', 'a/b/c', 'a0', 'b/x', 'b/y/z', 'team1/app', 'team10/app', 'team2/app'];

describe('repositoryPage', () => {
  let root: string;
  let driver: StorageDriver;
  let lists = 0;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'regate-catalog-'));
    const repos = join(root, 'docker/registry/v2/repositories');
    for (const name of NAMES) mkdirSync(join(repos, name, '_layers'), { recursive: true });
    mkdirSync(join(repos, 'b/y/_manifests'), { recursive: true }); // internals only: not a repository
    mkdirSync(join(repos, 'uploads-only/_uploads/x'), { recursive: true });
    writeFileSync(join(repos, 'b/stray-file'), 'x');
    const inner = wrapDriver(new FilesystemDriver(root));
    driver = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'list') return (path: string) => (lists++, target.list(path));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const all = [...NAMES].sort();

  test('every repository in lexical order', async () => {
    assert.deepEqual((await repositoryPage(driver, { limit: 1000 })).repositories, all);
    assert.deepEqual(all.slice(0, 4), ['a', 'a-c', 'a/b', 'a/b/c'], 'the order a depth-first walk would not give');
  });

  test('pages after any last give exactly the rest, in order', async () => {
    for (const last of ['', 'a', 'a-', 'a-c', 'a/', 'a/b', 'a/b/c', 'a0', 'b', 'b/x', 'b/y', 'team1', 'team1/app', 'team10/app', 'zzz']) {
      const expected = all.filter((n) => n > last);
      for (const limit of [1, 2, 3, 100]) {
        const page = await repositoryPage(driver, { limit, ...(last ? { after: last } : {}) });
        assert.deepEqual(page.repositories, expected.slice(0, limit), `after "${last}", ${limit}`);
        assert.equal(page.more, expected.length > limit, `more after "${last}", ${limit}`);
      }
    }
  });

  test('filtered names are skipped, not counted', async () => {
    const page = await repositoryPage(driver, { limit: 2, accept: (n) => n.startsWith('team') });
    assert.deepEqual(page.repositories, ['team1/app', 'team10/app']);
    assert.equal(page.more, true);
  });

  test('a page opens about what it returns', async () => {
    lists = 0;
    await repositoryPage(driver, { limit: 1, after: 'team1/app' });
    // The root; team1 and team1/app (names below team1/app sort after it); team10 and team10/app
    // (the page); team2 and team2/app (to know there is more). Nothing under a, a-c, a0 or b.
    // Directories are listed a few at a time, so a batch may open one or two past the page.
    assert.ok(lists >= 7 && lists <= 9, `${lists} directories listed`);
  });
});

test('subtreeBeforeOrAt', () => {
  assert.equal(subtreeBeforeOrAt('a', 'b'), true);
  assert.equal(subtreeBeforeOrAt('a', 'a-c'), false, 'a/… sorts after a-c');
  assert.equal(subtreeBeforeOrAt('a', 'a/m'), false, 'a/z sorts after a/m');
  assert.equal(subtreeBeforeOrAt('a', 'a0'), true, 'a/… sorts before a0');
  assert.equal(subtreeBeforeOrAt('b', 'a'), false);
  assert.equal(subtreeBeforeOrAt('a', 'a'), false, 'a/… follows a');
});
