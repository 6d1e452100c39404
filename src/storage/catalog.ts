// The repository catalog, found the way Distribution finds it: a directory below `repositories/`
// that holds an underscore directory (`_manifests`, `_layers`, `_uploads`) is a repository.
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
    if (repoPath.startsWith(prefix)) found.add(repoPath.slice(prefix.length));
    return 'skip';
  });
  return [...found].sort();
}
