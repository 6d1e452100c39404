// Removes upload sessions nobody finished: an interrupted push leaves `_uploads/<id>/` behind,
// and without purging those bytes stay forever. Same rule as Distribution's uploadpurging: a
// session whose `startedat` is older than the age limit is deleted (an unreadable one too).
import { FILE_ONLY, type StorageDriver } from './driver.js';
import { isRepositoryInternal, isUploadsRoot, REPOSITORIES_ROOT, uploadDataOf, uploadStartedAtOf } from './paths.js';
import { unlessMissing } from './links.js';

export interface PurgeResult {
  /** Upload directories deleted (or that would be, in a dry run). */
  purged: string[];
  /** Sessions seen in all. */
  seen: number;
}

export async function purgeUploads(driver: StorageDriver, olderThan: Date, options: { dryRun?: boolean } = {}): Promise<PurgeResult> {
  const uploadRoots: string[] = [];
  if (!(await unlessMissing(() => driver.stat(REPOSITORIES_ROOT)))) return { purged: [], seen: 0 };
  await driver.walk(REPOSITORIES_ROOT, (info) => {
    if (!info.isDir) return;
    if (isUploadsRoot(info.path)) uploadRoots.push(info.path);
    return isRepositoryInternal(info.path) ? 'skip' : undefined;
  });
  const result: PurgeResult = { purged: [], seen: 0 };
  for (const root of uploadRoots) {
    for (const dir of (await unlessMissing(() => driver.list(root))) ?? []) {
      result.seen++;
      const started = await startedAt(driver, dir);
      if (started !== undefined && started >= olderThan) continue;
      if (!options.dryRun) await unlessMissing(() => driver.delete(dir));
      result.purged.push(dir);
    }
  }
  return result;
}

/** undefined when the session has no readable start time: such a session can never be resumed. */
async function startedAt(driver: StorageDriver, dir: string): Promise<Date | undefined> {
  const content = await unlessMissing(() => driver.getContent(uploadStartedAtOf(dir)));
  if (!content) {
    // A session being created writes startedat first; without it (a cancel that raced a PATCH),
    // its data's age, else the directory's (an object store gives a directory no age of its own).
    const info = (await unlessMissing(() => driver.stat(uploadDataOf(dir), FILE_ONLY))) ?? (await unlessMissing(() => driver.stat(dir)));
    return info?.modTime;
  }
  const date = new Date(content.toString('utf8').trim());
  return Number.isNaN(date.getTime()) ? undefined : date;
}
