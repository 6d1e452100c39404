// The repository catalog, found the way Distribution 2.8 finds it: a directory below
// `repositories/` that holds a `_layers` directory is a repository (checked against 2.8.2: an
// upload session alone, or `_manifests` alone, does not make one). Other underscore directories
// are a repository's internals and are not descended into.
//
// A page costs about what it returns, not the size of the registry: directories are opened in the
// lexical order of the repository names they hold (a min-heap keyed by name, since depth-first
// order is not lexical: "a-c" sorts between "a" and "a/b"), a subtree that holds only names at or
// before `last` is never opened, and the walk stops once one name more than the page holds is
// found (that one only says there is a next page). One `list` per directory opened, a few at once.
import type { StorageDriver } from './driver.js';
import { PathNotFoundError } from './driver.js';
import { isRepositoryInternal, listingMarksRepository, pathFor, REPOSITORIES_ROOT, repositoryNameOf } from './paths.js';

export interface CatalogPageOptions {
  /** Only names sorting after this (`last` of the previous page). */
  after?: string;
  /** At most this many names. */
  limit: number;
  /** Names the caller may see (regate.access); the others are skipped, not counted. */
  accept?: (repository: string) => boolean;
}

export interface CatalogPage {
  repositories: string[];
  /** More names follow the last one returned. */
  more: boolean;
}

/** A directory still to open, or one opened and known to be (or not be) a repository. */
interface Entry {
  name: string;
  /** Set once listed: whether it holds `_layers`. */
  repository?: boolean;
}

/** A binary min-heap of entries by name. */
class EntryHeap {
  private readonly items: Entry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Entry | undefined {
    return this.items[0];
  }

  push(entry: Entry): void {
    const a = this.items;
    a.push(entry);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.name <= a[i]!.name) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }

  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.name < a[m]!.name) m = l;
        if (r < a.length && a[r]!.name < a[m]!.name) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Most directories listed at once. Siblings are listed together only once one of them turned out
 * to be a leaf repository (no names below it): then each sibling is at most one more name, so
 * listing as many as the page still needs costs one round, not one round each, and lists nothing
 * the page does not return. Siblings of unknown shape (team directories holding hundreds of
 * repositories each) are listed one at a time, so a page never lists far beyond its end.
 */
const MAX_PARALLEL_LISTS = 128;

/** Whether the subtree of `name` (name itself and name/…) holds nothing after `after`. Pure. */
export function subtreeBeforeOrAt(name: string, after: string): boolean {
  if (name > after) return false;
  const below = `${name}/`;
  if (after.startsWith(below)) return false; // some names below sort after `after`
  return below < after; // every name below starts with `below`, which sorts before `after`
}

async function children(driver: StorageDriver, path: string): Promise<string[] | undefined> {
  try {
    return await driver.list(path);
  } catch (err) {
    if (err instanceof PathNotFoundError) return undefined; // gone while we walked, or not a directory
    throw err;
  }
}

function parentName(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash < 0 ? '' : name.slice(0, slash);
}

export async function repositoryPage(driver: StorageDriver, options: CatalogPageOptions): Promise<CatalogPage> {
  const { after, limit, accept } = options;
  const found: string[] = [];
  if (limit <= 0) return { repositories: [], more: false };
  const heap = new EntryHeap();
  const enqueue = (entries: string[] | undefined): void => {
    for (const entry of entries ?? []) {
      const name = repositoryNameOf(entry);
      if (name === undefined || isRepositoryInternal(entry)) continue;
      if (after !== undefined && subtreeBeforeOrAt(name, after)) continue;
      heap.push({ name });
    }
  };
  enqueue(await children(driver, REPOSITORIES_ROOT));
  const leafParents = new Set<string>();
  while (heap.size > 0) {
    // A listed entry is decided once it is the smallest name left: nothing before it is pending.
    if (heap.peek()!.repository !== undefined) {
      const { name, repository } = heap.pop()!;
      if (repository && (after === undefined || name > after) && (!accept || accept(name))) {
        if (found.length === limit) return { repositories: found, more: true };
        found.push(name);
      }
      continue;
    }
    // The next few unlisted names, in order, listed together (their children go back in the heap,
    // where order is restored: a child "x/y" may sort before a later sibling "x0").
    const batch: Entry[] = [heap.pop()!];
    const parent = parentName(batch[0]!.name);
    if (leafParents.has(parent)) {
      const width = Math.min(MAX_PARALLEL_LISTS, limit + 1 - found.length);
      while (batch.length < width && heap.size > 0 && heap.peek()!.repository === undefined && parentName(heap.peek()!.name) === parent) batch.push(heap.pop()!);
    }
    const listed = await Promise.all(batch.map((entry) => children(driver, pathFor({ kind: 'repository', name: entry.name }))));
    batch.forEach((entry, i) => {
      const entries = listed[i];
      if (!entries) return;
      const repository = listingMarksRepository(entries);
      heap.push({ name: entry.name, repository });
      if (repository && entries.every(isRepositoryInternal)) leafParents.add(parentName(entry.name));
      enqueue(entries);
    });
  }
  return { repositories: found, more: false };
}
