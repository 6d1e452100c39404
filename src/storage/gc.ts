// Garbage collection while the registry serves: mark what manifests reach, sweep the rest.
//
// Mark: every repository's tags and manifest revisions are read; a kept manifest marks itself and
// every digest it names (layers, config, child manifests, subject). Kept are all revisions, or
// with deleteUntagged only those reachable from a tag (through indexes) and the referrers of kept
// ones. Sweep: a blob no kept manifest names, older than the delay, is deleted, with its
// repositories' layer links; untagged manifests (deleteUntagged) lose their revision links first.
// Last, the driver's own leftovers that nothing names (Swift's orphaned segment sets), if any.
//
// Nothing a concurrent request links is deleted: every deletion goes through the fence
// (gc-fence.ts): condemn, then check the content was not claimed since this pass began (minus the
// link window, the listing lag and the delay), then delete, then release. Requests claim content
// before they check it exists, so a request either sees the condemnation and waits, or this pass
// sees its claim and keeps the content.
import { randomBytes } from 'node:crypto';
import type { StorageDriver, UnnamedSweepResult } from './driver.js';
import { BlobStore } from './blob-store.js';
import { ManifestStore } from './manifest-store.js';
import { TagStore } from './tag-store.js';
import { ReferrerStore } from './referrer-store.js';
import type { BlobDescriptorCache } from './blob-descriptor-cache.js';
import { CLOCK_SLACK_MS, CONDEMNED_ACT_WITHIN_MS, DEFAULT_LINK_WINDOW_MS, GcFence } from './gc-fence.js';
import { storedBlobs } from './stored-blobs.js';
import { unlessMissing, digestString } from './links.js';
import { eachLimited } from '../each-limited.js';
import { tallyUsage, UsageReports, type RepositoryUsage } from './usage-report.js';
import { MirrorPulls } from './mirror-pulls.js';
import {
  baseName,
  digestOfLinkDir,
  isRepositoryInternal,
  pathFor,
  REPOSITORIES_ROOT,
  repositoryNameOf,
  type DigestParts,
} from './paths.js';

export interface GcOptions {
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Also delete manifests no tag reaches (and that are not referrers of kept ones). */
  deleteUntagged?: boolean;
  /** Only content older than this (and not claimed within it) is deleted. */
  delayMs: number;
  /** The registry's claim window (gc-fence.ts); both sides must agree. */
  linkWindowMs?: number;
  /** How far this backend's listings may lag behind writes (0 on a filesystem). */
  listingLagMs?: number;
  onProgress?: (progress: GcProgress) => void;
  /** The blob descriptor cache to keep current: what a pass deletes is forgotten there first. */
  cache?: BlobDescriptorCache;
  /**
   * Store the bytes per repository this pass measured (usage-report.ts), as measured by a GC pass
   * or by `regate du`. A pass that deletes stores it unless this is false; a dry run only when asked.
   */
  usageReport?: 'gc' | 'du' | false;
  /**
   * Pull-through mirrors whose cached content goes when nobody pulled it for `ttlMs` (regate.mirrors
   * ttl; 0 keeps it): repositories whose name starts with `prefix` ('' for Distribution's proxy).
   */
  mirrors?: ReadonlyArray<{ prefix: string; ttlMs: number }>;
}

export interface GcProgress {
  phase: 'mark' | 'untagged' | 'sweep';
  done: number;
  total: number;
}

export interface GcResult {
  dryRun: boolean;
  repositories: number;
  manifestsKept: number;
  /** Untagged manifest revisions removed (or that would be). */
  manifestsDeleted: number;
  blobsSeen: number;
  blobsMarked: number;
  /** Blobs deleted (or that would be), and their bytes. */
  blobsDeleted: number;
  bytesFreed: number;
  /** Unreferenced blobs kept because they are younger than the delay or were claimed meanwhile. */
  blobsKeptRecent: number;
  /**
   * Storage the driver keeps beside the paths that nothing names (Swift: segment sets whose
   * manifest is gone), when the driver has any; deleted on the second pass that finds it.
   */
  unnamed?: UnnamedSweepResult;
  /** Bytes per repository as the mark saw them (what its kept manifests name), unique and shared. */
  usage: Record<string, RepositoryUsage>;
  /** Why the usage report could not be stored, when it could not (the pass itself succeeded). */
  usageNotStored?: string;
  /** Mirrored manifests nobody pulled for the mirror's ttl, removed (or that would be) with their tags. */
  mirrorManifestsExpired: number;
}

const PARALLEL = 8;

interface Revision {
  digest: DigestParts;
  names: DigestParts[];
  children: DigestParts[];
  subject: string | undefined;
}

export async function collectGarbage(driver: StorageDriver, options: GcOptions): Promise<GcResult> {
  const fence = new GcFence(driver, options.linkWindowMs ?? DEFAULT_LINK_WINDOW_MS);
  const blobs = new BlobStore(driver, fence);
  // The cache learns what the pass deletes; a revision it still remembers only makes the mark keep more.
  const manifests = new ManifestStore(driver, blobs, options.cache);
  const tags = new TagStore(driver);
  const referrerEntries = new ReferrerStore(driver);
  const passId = `${process.pid}-${randomBytes(8).toString('hex')}`;
  const dryRun = options.dryRun ?? false;
  const startedAt = dryRun ? new Date() : await fence.storageNow();
  const youngSince = startedAt.getTime() - options.delayMs;
  const claimedSince = youngSince - fence.linkWindowMs - (options.listingLagMs ?? 0) - CLOCK_SLACK_MS;
  const progress = options.onProgress ?? (() => undefined);
  const result: GcResult = { dryRun, repositories: 0, manifestsKept: 0, manifestsDeleted: 0, blobsSeen: 0, blobsMarked: 0, blobsDeleted: 0, bytesFreed: 0, blobsKeptRecent: 0, usage: {}, mirrorManifestsExpired: 0 };
  const pulls = new MirrorPulls(driver);

  const marked = new Set<string>();
  const namedBy = new Map<string, Set<string>>(); // repository → what its kept manifests name
  const keep = (name: string, revision: Revision): void => {
    result.manifestsKept++;
    markRevision(marked, revision);
    let named = namedBy.get(name);
    if (!named) namedBy.set(name, (named = new Set()));
    markRevision(named, revision);
  };
  const linksOf = new Map<string, string[]>(); // digest → repositories with a layer link to it
  /** `pulledBefore`: a mirror's cached manifest that nobody pulled since then (its ttl ago). */
  const untagged: { name: string; revision: Revision; pulledBefore?: number }[] = [];

  const names = await repositories(driver);
  result.repositories = names.length;
  let done = 0;
  progress({ phase: 'mark', done, total: names.length });
  await eachLimited(names, PARALLEL, async (name) => {
    const revisions = await readRevisions(manifests, name);
    let kept = options.deleteUntagged ? await reachable(tags, name, revisions) : new Set(revisions.keys());
    // A mirror's cache: what nobody pulled for its ttl goes (and what it needs stays with what is kept).
    const ttlMs = options.mirrors?.find((m) => name.startsWith(m.prefix))?.ttlMs ?? 0;
    const fresh = ttlMs > 0 ? closure(revisions, await pulledSince(driver, pulls, name, revisions, startedAt.getTime() - ttlMs)) : undefined;
    if (fresh) kept = new Set([...kept].filter((key) => fresh.has(key)));
    if (!namedBy.has(name)) namedBy.set(name, new Set());
    for (const [key, revision] of revisions) {
      if (kept.has(key)) {
        keep(name, revision);
      } else {
        untagged.push({ name, revision, ...(fresh !== undefined && !fresh.has(key) ? { pulledBefore: startedAt.getTime() - ttlMs } : {}) });
      }
    }
    for (const digest of await layerLinks(driver, name)) {
      const key = digestString(digest);
      linksOf.set(key, [...(linksOf.get(key) ?? []), name]);
    }
    progress({ phase: 'mark', done: ++done, total: names.length });
  });

  // Untagged revisions go first, through the fence: one claimed meanwhile is kept, and marks.
  done = 0;
  if (untagged.length > 0) progress({ phase: 'untagged', done, total: untagged.length });
  await eachLimited(untagged, PARALLEL, async ({ name, revision, pulledBefore }) => {
    const expired = pulledBefore !== undefined;
    const removed = dryRun
      ? !(await claimedRecently(fence, revision.digest, claimedSince))
      : await fenced(fence, revision.digest, passId, claimedSince, async () => {
          if (expired) {
            // Pulled since the mark phase looked: it stays.
            if (((await pulls.lastPull(name, revision.digest))?.getTime() ?? 0) >= pulledBefore) return false;
            // An expired mirror copy loses its tags first: the next pull of one asks the upstream again.
            for (const tag of await tags.tagsPointingAt(name, revision.digest)) await tags.untag(name, tag);
          }
          // Its referrers entry goes first, as for a DELETE: never a listed referrer that is gone.
          const subject = revision.subject !== undefined ? parseDigest(revision.subject) : undefined;
          if (subject) await referrerEntries.remove(name, subject, revision.digest);
          const deleted = await manifests.delete(name, revision.digest);
          if (expired) await pulls.forget(name, revision.digest);
          return deleted;
        });
    if (removed && expired) result.mirrorManifestsExpired++;
    if (removed) result.manifestsDeleted++;
    else keep(name, revision);
    progress({ phase: 'untagged', done: ++done, total: untagged.length });
  });

  const stored = await storedBlobs(driver);
  result.blobsSeen = stored.length;
  const sizes = new Map(stored.map(({ digest, size }) => [digestString(digest), size]));
  result.usage = tallyUsage(namedBy, (digest) => sizes.get(digest));
  sizes.clear();
  done = 0;
  progress({ phase: 'sweep', done, total: stored.length });
  await eachLimited(stored, PARALLEL, async ({ digest, size, modTime }) => {
    const key = digestString(digest);
    if (marked.has(key)) result.blobsMarked++;
    else if (modTime.getTime() >= youngSince) result.blobsKeptRecent++;
    else if (dryRun) {
      if (await claimedRecently(fence, digest, claimedSince)) result.blobsKeptRecent++;
      else {
        result.blobsDeleted++;
        result.bytesFreed += size;
      }
    } else {
      const deleted = await fenced(fence, digest, passId, claimedSince, async () => {
        await options.cache?.forget(digest);
        for (const name of linksOf.get(key) ?? []) await options.cache?.forgetLink(name, digest);
        await unlessMissing(() => driver.delete(pathFor({ kind: 'blobDir', digest })));
        for (const name of linksOf.get(key) ?? []) await unlessMissing(() => driver.delete(pathFor({ kind: 'layerLink', name, digest }).slice(0, -'/link'.length)));
        await fence.forget(digest);
        return true;
      });
      if (deleted) {
        result.blobsDeleted++;
        result.bytesFreed += size;
      } else result.blobsKeptRecent++;
    }
    progress({ phase: 'sweep', done: ++done, total: stored.length });
  });
  if (driver.sweepUnnamed) result.unnamed = await driver.sweepUnnamed({ minAgeMs: Math.max(options.delayMs, options.listingLagMs ?? 0), dryRun });
  const by = options.usageReport ?? (dryRun ? false : 'gc');
  if (by) {
    try {
      await new UsageReports(driver).write({ measuredAt: startedAt.toISOString(), by, repositories: result.usage });
    } catch (err) {
      // What the pass deleted stays deleted; only the page's storage figures are older.
      if (by === 'du') throw err;
      result.usageNotStored = (err as Error).message;
    }
  }
  return result;
}

/** The revisions pulled (or, never pulled, cached) at or after `since`: what a mirror's ttl keeps. */
async function pulledSince(driver: StorageDriver, pulls: MirrorPulls, name: string, revisions: Map<string, Revision>, since: number): Promise<string[]> {
  const fresh: string[] = [];
  await eachLimited(revisions, PARALLEL, async ([key, revision]) => {
    const pulled = (await pulls.lastPull(name, revision.digest)) ?? (await unlessMissing(() => driver.stat(pathFor({ kind: 'manifestRevisionLink', name, digest: revision.digest }))))?.modTime;
    if (pulled === undefined || pulled.getTime() >= since) fresh.push(key);
  });
  return fresh;
}

async function claimedRecently(fence: GcFence, digest: DigestParts, claimedSince: number): Promise<boolean> {
  const claimed = await fence.lastClaim(digest);
  return claimed !== undefined && claimed.getTime() >= claimedSince;
}

/** Condemn, check for a claim since `claimedSince`, act, release. False when the content was kept. */
async function fenced(fence: GcFence, digest: DigestParts, passId: string, claimedSince: number, act: () => Promise<boolean>): Promise<boolean> {
  await fence.condemn(digest, passId);
  const condemnedAt = performance.now();
  try {
    if (await claimedRecently(fence, digest, claimedSince)) return false;
    // Claims stop waiting for a condemnation after a while; never act on one that old.
    if (performance.now() - condemnedAt > CONDEMNED_ACT_WITHIN_MS) return false;
    return await act();
  } finally {
    await fence.release(digest, passId);
  }
}

function markRevision(marked: Set<string>, revision: Revision): void {
  marked.add(digestString(revision.digest));
  for (const d of revision.names) marked.add(digestString(d));
}

/** Every repository: a directory under repositories/ holding `_layers` or `_manifests`. */
async function repositories(driver: StorageDriver): Promise<string[]> {
  const found = new Set<string>();
  if (!(await unlessMissing(() => driver.stat(REPOSITORIES_ROOT)))) return [];
  await driver.walk(REPOSITORIES_ROOT, (info) => {
    if (!info.isDir || !isRepositoryInternal(info.path)) return;
    const base = baseName(info.path);
    const name = repositoryNameOf(info.path.slice(0, -(base.length + 1)));
    if (name !== undefined && (base === '_layers' || base === '_manifests')) found.add(name);
    return 'skip';
  });
  return [...found].sort();
}

async function readRevisions(manifests: ManifestStore, name: string): Promise<Map<string, Revision>> {
  const revisions = new Map<string, Revision>();
  await eachLimited(await manifests.revisions(name), PARALLEL, async (digest) => {
    const content = await manifests.get(name, digest);
    if (!content) return; // a revision link without content: nothing it could keep
    revisions.set(digestString(digest), { digest, ...referencesOf(content) });
  });
  return revisions;
}

/**
 * What a manifest names, read generically so that every kind (OCI, Docker v2, schema1's blobSum,
 * artifacts) keeps what it references: any `digest` or `blobSum` string anywhere in the document.
 * An unreadable manifest names nothing, but is itself kept or not by the rules above.
 */
function referencesOf(content: Buffer): Omit<Revision, 'digest'> {
  const names: DigestParts[] = [];
  const children: DigestParts[] = [];
  let subject: string | undefined;
  const visit = (value: unknown, key: string | undefined, inManifests: boolean): void => {
    if (typeof value === 'string') {
      const d = (key === 'digest' || key === 'blobSum') && parseDigest(value);
      if (d) {
        names.push(d);
        if (inManifests) children.push(d);
      }
      return;
    }
    if (Array.isArray(value)) {
      for (const item of value) visit(item, undefined, inManifests);
      return;
    }
    if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, k, k === 'manifests' || (inManifests && k === 'digest'));
    }
  };
  try {
    const doc = JSON.parse(content.toString('utf8')) as Record<string, unknown>;
    visit(doc, undefined, false);
    const s = doc.subject as { digest?: unknown } | undefined;
    if (s && typeof s.digest === 'string' && parseDigest(s.digest)) subject = s.digest;
  } catch {
    // not JSON: names nothing
  }
  return { names, children, subject };
}

function parseDigest(value: string): DigestParts | undefined {
  const m = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-f0-9]{32,})$/.exec(value);
  return m ? { algorithm: m[1]!, encoded: m[2]! } : undefined;
}

/** Revisions reachable from the repository's tags through indexes, plus referrers of those. */
async function reachable(tags: TagStore, name: string, revisions: Map<string, Revision>): Promise<Set<string>> {
  const roots: string[] = [];
  for (const tag of (await tags.list(name)) ?? []) {
    const target = await tags.resolve(name, tag);
    if (target) roots.push(digestString(target));
  }
  return closure(revisions, roots);
}

/** The roots, the children of what is kept (through indexes), and the referrers of what is kept. */
function closure(revisions: Map<string, Revision>, roots: Iterable<string>): Set<string> {
  const kept = new Set<string>();
  const work: string[] = [];
  const keep = (key: string): void => {
    if (kept.has(key) || !revisions.has(key)) return;
    kept.add(key);
    work.push(key);
  };
  for (const root of roots) keep(root);
  for (;;) {
    while (work.length > 0) for (const child of revisions.get(work.pop()!)!.children) keep(digestString(child));
    let grew = false;
    for (const [key, revision] of revisions) {
      if (!kept.has(key) && revision.subject !== undefined && kept.has(revision.subject)) {
        keep(key);
        grew = true;
      }
    }
    if (!grew) return kept;
  }
}

async function layerLinks(driver: StorageDriver, name: string): Promise<DigestParts[]> {
  const found: DigestParts[] = [];
  for (const algorithmDir of (await unlessMissing(() => driver.list(pathFor({ kind: 'layersRoot', name })))) ?? []) {
    for (const dir of (await unlessMissing(() => driver.list(algorithmDir))) ?? []) {
      const digest = digestOfLinkDir(dir);
      if (digest) found.push(digest);
    }
  }
  return found;
}

