// The repository catalog, found the way Distribution 2.8 finds it: a directory below
// `repositories/` that holds a `_layers` directory is a repository (checked against 2.8.2: an
// upload session alone, or `_manifests` alone, does not make one). Other underscore directories
// are a repository's internals and are not descended into.
import type { StorageDriver } from './driver.js';
import { REPOSITORIES_ROOT } from './paths.js';
import { unlessMissing } from './links.js';

export async function listRepositories(driver: StorageDriver): Promise<string[]> {
  const found = new Set<string>();
  const prefix = `${REPOSITORIES_ROOT}/`;
  const exists = await unlessMissing(() => driver.stat(REPOSITORIES_ROOT));
  if (!exists) return [];
  await driver.walk(REPOSITORIES_ROOT, (info) => {
    if (!info.isDir) return;
    const base = info.path.slice(info.path.lastIndexOf('/') + 1);
    if (!base.startsWith('_')) return;
    const repoPath = info.path.slice(0, info.path.lastIndexOf('/'));
    if (base === '_layers' && repoPath.startsWith(prefix)) found.add(repoPath.slice(prefix.length));
    return 'skip';
  });
  return [...found].sort();
}
