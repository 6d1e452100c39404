// The referrers of a subject, from a stored index (storage/referrer-store.ts): a manifest PUT with a
// `subject` writes the referrer's descriptor under the subject before it answers 201, a DELETE
// removes it first, and a query reads only the subject's entries, so it costs about what it returns
// however many manifests the repository holds. Every process serving the storage sees the same index.
//
// Order keeps the index a subset of what is stored: PUT stores the revision, then the entry; DELETE
// removes the entry, then the revision. A failure between the two leaves a manifest unlisted (the
// client, not having had its 201/202, retries, and the retry writes or removes the entry again),
// never a listed manifest that is gone.
//
// Repositories written before the index existed (or by another registry) have no marker: the first
// query scans every revision once, writes the entries it finds, then the marker. Two processes doing
// that at once write the same entries, which is harmless. A repository regate creates is marked on
// its first push, so it never needs the scan. Manifests written later by a registry that does not
// keep this index are not listed; deleting `regate/referrers/<name>/_referrers/_indexed` makes the next query scan again.
import type { ManifestStore } from '../storage/manifest-store.js';
import type { ReferrerStore } from '../storage/referrer-store.js';
import type { DigestParts } from '../storage/paths.js';
import { Digest } from './references.js';
import { parseManifest, type ParsedManifest } from './manifests.js';

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Revisions read at once by the backfill scan. */
const SCAN_CONCURRENCY = 16;
/** Repositories this process has seen marked; only spares PUTs a stat, never decides a query. */
const MAX_REMEMBERED = 10_000;

export class ReferrerIndex {
  private readonly backfills = new Map<string, Promise<void>>();
  private readonly knownIndexed = new Set<string>();

  constructor(
    private readonly manifests: ManifestStore,
    private readonly store: ReferrerStore,
  ) {}

  /**
   * Before a revision is stored: a repository with no revisions yet has nothing to scan, so it is
   * marked now and every later revision reaches the index through record().
   */
  async beforePut(name: string): Promise<void> {
    if (this.knownIndexed.has(name)) return;
    if (!(await this.store.isIndexed(name))) {
      if (await this.manifests.mayHaveRevisions(name)) return; // older revisions: the first query scans them
      await this.store.markIndexed(name);
    }
    this.remember(name);
  }

  /** After the revision is stored, before the PUT answers: a manifest with a subject is listed. */
  async record(name: string, digest: Digest, content: Buffer, pushed: ParsedManifest): Promise<void> {
    // Described as the stored bytes read back (what GET serves and the scan would see), not as the
    // PUT's Content-Type may have qualified them.
    const manifest = safeParse(content) ?? pushed;
    if (!manifest.subject) return;
    await this.store.put(name, manifest.subject.digest, digest, entryContent(describe(digest, content, manifest)));
  }

  /** Before the revision `content` is deleted: its entry goes first. */
  async forget(name: string, digest: DigestParts, content: Buffer): Promise<void> {
    const subject = subjectOf(content);
    if (subject) await this.store.remove(name, subject, digest);
  }

  async referrers(name: string, subject: Digest): Promise<ReferrerDescriptor[]> {
    if (!(await this.store.isIndexed(name))) await this.backfill(name);
    const found: ReferrerDescriptor[] = [];
    for (const entry of await this.store.list(name, subject)) {
      const descriptor = parseEntry(entry.content, entry.referrer) ?? (await this.rebuild(name, subject, entry.referrer));
      if (descriptor) found.push(descriptor);
    }
    return found.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  /** One scan per repository at a time in this process; other processes may scan too (idempotent). */
  private backfill(name: string): Promise<void> {
    let running = this.backfills.get(name);
    if (!running) {
      running = this.scan(name).finally(() => this.backfills.delete(name));
      this.backfills.set(name, running);
    }
    return running;
  }

  private async scan(name: string): Promise<void> {
    const revisions = await this.manifests.revisions(name);
    // Nothing stored (or a name that does not exist): no marker, so a GET creates nothing.
    if (revisions.length === 0) return;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < revisions.length) await this.scanOne(name, revisions[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(SCAN_CONCURRENCY, revisions.length) }, worker));
    await this.store.markIndexed(name);
    this.remember(name);
  }

  private async scanOne(name: string, revision: DigestParts): Promise<void> {
    const digest = validDigest(revision);
    if (!digest) return; // not a name regate could serve anyway
    const content = await this.manifests.get(name, digest);
    const manifest = content && safeParse(content);
    if (!content || !manifest?.subject) return;
    await this.store.put(name, manifest.subject.digest, digest, entryContent(describe(digest, content, manifest)));
    // A DELETE that ran between our read and our write removed nothing; take the entry back out.
    if (!(await this.manifests.exists(name, digest))) await this.store.remove(name, manifest.subject.digest, digest);
  }

  /** An entry that does not parse is rebuilt from the manifest it names, or dropped with it. */
  private async rebuild(name: string, subject: Digest, referrer: DigestParts): Promise<ReferrerDescriptor | undefined> {
    const digest = validDigest(referrer);
    const content = digest && (await this.manifests.get(name, digest));
    const manifest = content && safeParse(content);
    if (!digest || !content || !manifest || !manifest.subject?.digest.equals(subject)) {
      await this.store.remove(name, subject, referrer);
      return undefined;
    }
    const descriptor = describe(digest, content, manifest);
    await this.store.put(name, subject, digest, entryContent(descriptor));
    return descriptor;
  }

  private remember(name: string): void {
    if (this.knownIndexed.size >= MAX_REMEMBERED) this.knownIndexed.clear();
    this.knownIndexed.add(name);
  }
}

function describe(digest: Digest, content: Buffer, manifest: ParsedManifest): ReferrerDescriptor {
  const descriptor: ReferrerDescriptor = { mediaType: manifest.mediaType, digest: digest.toString(), size: content.length };
  if (manifest.artifactType !== undefined) descriptor.artifactType = manifest.artifactType;
  if (manifest.annotations !== undefined) descriptor.annotations = manifest.annotations;
  return descriptor;
}

const entryContent = (descriptor: ReferrerDescriptor): Buffer => Buffer.from(JSON.stringify(descriptor));

/** A stored descriptor, checked against the digest its path names; undefined when it does not hold. */
function parseEntry(content: Buffer, referrer: DigestParts): ReferrerDescriptor | undefined {
  let value: unknown;
  try {
    value = JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || typeof d.size !== 'number' || d.digest !== `${referrer.algorithm}:${referrer.encoded}`) return undefined;
  const descriptor: ReferrerDescriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (typeof d.artifactType === 'string') descriptor.artifactType = d.artifactType;
  if (typeof d.annotations === 'object' && d.annotations !== null) descriptor.annotations = d.annotations as Record<string, string>;
  return descriptor;
}

function subjectOf(content: Buffer): Digest | undefined {
  return safeParse(content)?.subject?.digest;
}

/** Manifests written by other registries may be of kinds regate does not parse (schema1): no subject. */
function safeParse(content: Buffer): ParsedManifest | undefined {
  try {
    return parseManifest(content);
  } catch {
    return undefined;
  }
}

function validDigest(parts: DigestParts): Digest | undefined {
  try {
    return Digest.parse(`${parts.algorithm}:${parts.encoded}`);
  } catch {
    return undefined;
  }
}
