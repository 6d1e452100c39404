// Segment sets no manifest names any more: left when two processes commit the same blob at the
// same instant (each hands its set to the blob, one wins), or by a move cut off between its steps.
// Nothing reads them; they are found by listing `segments/` and every manifest under `files/`.
//
// A listing may lag writes, and a manifest a move has just written may not be listed yet while the
// set is already old. So a set is deleted only when two passes at least `minAgeMs` apart both
// found it unnamed and nothing was written to it for that long; the first pass only records it
// (in `regate-unnamed-segments.json` beside `files/` and `segments/`, read by every process).
import type { SwiftClient } from '../../swift/client.js';
import type { UnnamedSweepOptions, UnnamedSweepResult } from '../driver.js';
import { joinName, manifestPrefix } from './swift-segments.js';

interface SetSeen {
  bytes: number;
  newest: number;
}

const HEAD_PARALLELISM = 8;

/** The pass's record of unnamed sets: set prefix → when a pass first found it unnamed (ms). */
type Record_ = Record<string, number>;

export async function sweepUnnamedSegments(
  client: SwiftClient,
  layout: { root: string; files: string },
  /** Deletes every object under a set's prefix. */
  deleteSet: (prefix: string) => Promise<void>,
  options: UnnamedSweepOptions,
): Promise<UnnamedSweepResult> {
  const now = Date.now();
  const recordName = joinName(layout.root, 'regate-unnamed-segments.json');
  // Segments first: a set written after this listing is not looked at; one listed here had its
  // manifest written before its first segment (swift-writer.ts), so that manifest is listed below.
  const sets = new Map<string, SetSeen>();
  for await (const entry of client.list({ prefix: joinName(layout.root, 'segments/') })) {
    if (entry.isSubdir) continue;
    const set = entry.name.slice(0, entry.name.lastIndexOf('/'));
    const seen = sets.get(set) ?? { bytes: 0, newest: 0 };
    seen.bytes += entry.bytes;
    seen.newest = Math.max(seen.newest, entry.lastModified.getTime());
    sets.set(set, seen);
  }
  const named = await namedPrefixes(client, layout.files);
  const sortedNamed = [...named].sort();
  const isNamed = (set: string): boolean => {
    // A manifest names every object whose name starts with its prefix: the set's own prefix, a
    // shorter one, or a longer one within the set (a manifest written by another tool).
    const segment = `${set}/`;
    for (let end = segment.length; end > 0; end--) if (named.has(segment.slice(0, end))) return true;
    const at = lowerBound(sortedNamed, segment);
    return at < sortedNamed.length && sortedNamed[at]!.startsWith(segment);
  };
  const previous = await readRecord(client, recordName);
  const next: Record_ = {};
  const result: UnnamedSweepResult = { found: 0, deleted: 0, bytesFreed: 0 };
  for (const [set, seen] of sets) {
    if (isNamed(set)) continue;
    result.found++;
    const firstSeen = previous[set];
    const due = firstSeen !== undefined && now - firstSeen >= options.minAgeMs && now - seen.newest >= options.minAgeMs;
    if (due) {
      result.deleted++;
      result.bytesFreed += seen.bytes;
    }
    if (due && !options.dryRun) await deleteSet(set);
    else next[set] = firstSeen ?? now;
  }
  if (!options.dryRun) await writeRecord(client, recordName, next, previous);
  return result;
}

function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Every prefix a large-object manifest under `files/` names. Manifests are listed as zero-byte
 * objects by OpenStack Swift; whatever a backend lists them as, every blob's and upload's `data`
 * is asked too (the only names Distribution's layout stores as large objects).
 */
async function namedPrefixes(client: SwiftClient, files: string): Promise<Set<string>> {
  const candidates: string[] = [];
  for await (const entry of client.list({ prefix: `${files}/` })) {
    if (!entry.isSubdir && (entry.bytes === 0 || entry.name.endsWith('/data'))) candidates.push(entry.name);
  }
  const named = new Set<string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < candidates.length) {
      const info = await client.head(candidates[next++]!, true);
      if (info?.dloManifest === undefined) continue;
      const prefix = manifestPrefix(client, info.dloManifest);
      if (prefix !== undefined) named.add(prefix);
    }
  };
  await Promise.all(Array.from({ length: Math.min(HEAD_PARALLELISM, candidates.length) }, worker));
  return named;
}

async function readRecord(client: SwiftClient, name: string): Promise<Record_> {
  const body = await client.getBuffer(name);
  if (!body) return {};
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    if (!parsed || typeof parsed !== 'object') return {};
    return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number'));
  } catch {
    // A damaged record only delays deletions by one pass.
    return {};
  }
}

async function writeRecord(client: SwiftClient, name: string, next: Record_, previous: Record_): Promise<void> {
  if (Object.keys(next).length === 0) {
    if (Object.keys(previous).length > 0) await client.delete(name);
    return;
  }
  await client.put(name, Buffer.from(JSON.stringify(next)), { 'content-type': 'application/json' });
}
