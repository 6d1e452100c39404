// Tags: `_manifests/tags/<tag>/current/link` says where a tag points now; `index/` remembers every
// digest it ever pointed at (Distribution writes it; regate keeps writing it for compatibility).
import { LRUCache } from 'lru-cache';
import type { StorageDriver } from './driver.js';
import { FILE_ONLY, PathNotFoundError } from './driver.js';
import { pathFor, type DigestParts } from './paths.js';
import { readLink, unlessMissing, writeLink } from './links.js';
import { eachLimited } from '../each-limited.js';

/** A tag and when its current link was last written: the last push of that tag. */
export interface TagPush {
  tag: string;
  pushedAt: number;
}

/** How long a repository's push times are reused (another replica's pushes show up after at most this). */
const PUSH_TIMES_TTL_MS = 5000;
const STATS_AT_ONCE = 32;

export class TagStore {
  /** Push times per repository, newest first; dropped when this process tags or untags there. */
  private readonly pushTimesCache = new LRUCache<string, Promise<TagPush[] | undefined>>({ max: 64, ttl: PUSH_TIMES_TTL_MS });

  constructor(private readonly driver: StorageDriver) {}

  /**
   * Every tag with its last push time, newest first (ties by name); undefined when the repository
   * does not exist. One flat listing where the driver has one (Swift), else the driver's batched
   * modification times (a filesystem), else a stat per tag.
   */
  pushTimes(name: string): Promise<TagPush[] | undefined> {
    let pending = this.pushTimesCache.get(name);
    if (!pending) {
      const loading = this.readPushTimes(name);
      pending = loading;
      this.pushTimesCache.set(name, loading);
      loading.catch(() => this.pushTimesCache.delete(name));
    }
    return pending;
  }

  private async readPushTimes(name: string): Promise<TagPush[] | undefined> {
    const root = pathFor({ kind: 'tagsRoot', name });
    const pushes: TagPush[] = [];
    if (this.driver.filesBelow) {
      for (const file of await this.driver.filesBelow(root)) {
        const m = /\/([^/]+)\/current\/link$/.exec(file.path);
        if (m && file.path === `${root}/${m[1]}/current/link`) pushes.push({ tag: m[1]!, pushedAt: file.modTime.getTime() });
      }
      if (pushes.length === 0 && (await this.list(name)) === undefined) return undefined;
    } else if (this.driver.modTimes) {
      const tags = await this.list(name);
      if (tags === undefined) return undefined;
      const times = await this.driver.modTimes(tags.map((tag) => pathFor({ kind: 'tagCurrentLink', name, tag })));
      tags.forEach((tag, i) => {
        const at = times[i];
        if (at) pushes.push({ tag, pushedAt: at.getTime() });
      });
    } else {
      const tags = await this.list(name);
      if (tags === undefined) return undefined;
      await eachLimited(tags, STATS_AT_ONCE, async (tag) => {
        const info = await unlessMissing(() => this.driver.stat(pathFor({ kind: 'tagCurrentLink', name, tag }), FILE_ONLY));
        if (info) pushes.push({ tag, pushedAt: info.modTime.getTime() });
      });
    }
    return pushes.sort((a, b) => b.pushedAt - a.pushedAt || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  }

  async resolve(name: string, tag: string): Promise<DigestParts | undefined> {
    return readLink(this.driver, pathFor({ kind: 'tagCurrentLink', name, tag }));
  }

  async tag(name: string, tag: string, digest: DigestParts): Promise<void> {
    this.pushTimesCache.delete(name);
    // The index only remembers (Distribution writes it); nothing reads it to find the current link.
    await Promise.all([
      writeLink(this.driver, pathFor({ kind: 'tagIndexLink', name, tag, digest }), digest),
      writeLink(this.driver, pathFor({ kind: 'tagCurrentLink', name, tag }), digest),
    ]);
    this.pushTimesCache.delete(name); // a read that began before the write may have been cached meanwhile
  }

  /** Returns false when there was no such tag. */
  async untag(name: string, tag: string): Promise<boolean> {
    this.pushTimesCache.delete(name);
    try {
      await this.driver.delete(pathFor({ kind: 'tagDir', name, tag }));
      return true;
    } catch (err) {
      if (err instanceof PathNotFoundError) return false;
      throw err;
    } finally {
      this.pushTimesCache.delete(name);
    }
  }

  /**
   * All tags, sorted; undefined when the repository does not exist. An object store has no empty
   * directories: a repository whose last tag was deleted has no tags directory but still exists.
   */
  async list(name: string): Promise<string[] | undefined> {
    const entries = await unlessMissing(() => this.driver.list(pathFor({ kind: 'tagsRoot', name })));
    if (!entries) {
      const repository = await unlessMissing(() => this.driver.stat(pathFor({ kind: 'repository', name })));
      return repository?.isDir ? [] : undefined;
    }
    return entries.map((p) => p.slice(p.lastIndexOf('/') + 1)).sort();
  }

  /** Does the repository exist (a directory under repositories/)? One look, no listing of its tags. */
  async repositoryExists(name: string): Promise<boolean> {
    return (await unlessMissing(() => this.driver.stat(pathFor({ kind: 'repository', name }))))?.isDir === true;
  }

  /** Tags whose current link points at the digest. */
  async tagsPointingAt(name: string, digest: DigestParts): Promise<string[]> {
    const tags = (await this.list(name)) ?? [];
    const matches: string[] = [];
    for (const tag of tags) {
      const current = await this.resolve(name, tag);
      if (current && current.algorithm === digest.algorithm && current.encoded === digest.encoded) matches.push(tag);
    }
    return matches;
  }
}
