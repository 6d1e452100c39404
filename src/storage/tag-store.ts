// Tags: `_manifests/tags/<tag>/current/link` says where a tag points now; `index/` remembers every
// digest it ever pointed at (Distribution writes it; regate keeps writing it for compatibility).
import type { StorageDriver } from './driver.js';
import { PathNotFoundError } from './driver.js';
import { pathFor, type DigestParts } from './paths.js';
import { readLink, unlessMissing, writeLink } from './links.js';

export class TagStore {
  constructor(private readonly driver: StorageDriver) {}

  async resolve(name: string, tag: string): Promise<DigestParts | undefined> {
    return readLink(this.driver, pathFor({ kind: 'tagCurrentLink', name, tag }));
  }

  async tag(name: string, tag: string, digest: DigestParts): Promise<void> {
    // The index only remembers (Distribution writes it); nothing reads it to find the current link.
    await Promise.all([
      writeLink(this.driver, pathFor({ kind: 'tagIndexLink', name, tag, digest }), digest),
      writeLink(this.driver, pathFor({ kind: 'tagCurrentLink', name, tag }), digest),
    ]);
  }

  /** Returns false when there was no such tag. */
  async untag(name: string, tag: string): Promise<boolean> {
    try {
      await this.driver.delete(pathFor({ kind: 'tagDir', name, tag }));
      return true;
    } catch (err) {
      if (err instanceof PathNotFoundError) return false;
      throw err;
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
