// Referrers are found by reading the repository's manifest revisions, so manifests pushed by any
// process (or by Distribution) are seen. Manifests are immutable, so what each one says about its
// subject is cached by digest and every revision is parsed at most once.
import type { ManifestStore } from '../storage/manifest-store.js';
import type { DigestParts } from '../storage/paths.js';
import { parseManifest } from './manifests.js';

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

interface Summary {
  subject?: string;
  descriptor: ReferrerDescriptor;
}

const MAX_CACHED = 100_000;

export class ReferrerIndex {
  private readonly summaries = new Map<string, Summary | null>();

  constructor(private readonly manifests: ManifestStore) {}

  async referrers(name: string, subject: string): Promise<ReferrerDescriptor[]> {
    const found: ReferrerDescriptor[] = [];
    for (const digest of await this.manifests.revisions(name)) {
      const summary = await this.summary(name, digest);
      if (summary?.subject === subject) found.push(summary.descriptor);
    }
    return found.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  private async summary(name: string, digest: DigestParts): Promise<Summary | null> {
    const key = `${digest.algorithm}:${digest.encoded}`;
    const cached = this.summaries.get(key);
    if (cached !== undefined) return cached;
    const content = await this.manifests.get(name, digest);
    if (!content) return null; // a revision deleted or not yet visible: not cached, may appear later
    let summary: Summary | null = null;
    try {
      const parsed = parseManifest(content);
      const descriptor: ReferrerDescriptor = { mediaType: parsed.mediaType, digest: key, size: content.length };
      if (parsed.artifactType !== undefined) descriptor.artifactType = parsed.artifactType;
      if (parsed.annotations !== undefined) descriptor.annotations = parsed.annotations;
      summary = { descriptor };
      if (parsed.subject) summary.subject = parsed.subject.digest.toString();
    } catch {
      summary = null; // not a manifest regate understands (e.g. schema1 written by another registry)
    }
    if (this.summaries.size >= MAX_CACHED) this.summaries.clear();
    this.summaries.set(key, summary);
    return summary;
  }
}
