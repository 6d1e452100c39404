// Large objects as regate and Distribution's swift driver both store them: a 0-byte DLO manifest at
// the object's name (`X-Object-Manifest: <container>/<segment prefix>`) over segments named
// `<segment prefix>/%016d`. regate also writes the segment sizes into the manifest's metadata, so
// it can read a blob segment by segment (no listing, no DLO rate limit) and know its size without
// trusting a container listing that may lag. Manifests without that metadata (written by
// Distribution) are resolved from a listing checked for completeness with HEADs.
import { createHash, randomBytes } from 'node:crypto';
import type { SwiftClient, ObjectInfo } from '../../swift/client.js';

export interface Segment {
  readonly name: string;
  readonly size: number;
  /** Offset of the segment's first byte in the whole object. */
  readonly start: number;
}

export interface SegmentSet {
  /** Segment name prefix (no container, no trailing slash). */
  readonly prefix: string;
  readonly segments: Segment[];
  readonly size: number;
}

/** The metadata key (X-Object-Meta-Regate-Segments[-N]) holding "first:size*count,size*count,…". */
export const SEGMENTS_META = 'regate-segments';
const MAX_META_VALUE = 250;
const MAX_META_KEYS = 12;

export function segmentName(prefix: string, index: number): string {
  return `${prefix}/${String(index).padStart(16, '0')}`;
}

const NUMBERED = /\/(\d{16})$/;

/** The number of a set's first segment (1 for an empty set: where a new one starts). */
export function firstIndex(set: SegmentSet): number {
  const m = set.segments.length > 0 ? NUMBERED.exec(set.segments[0]!.name) : null;
  return m ? Number(m[1]) : 1;
}

/**
 * FileInfo.version of a segmented object: which set and which of its segments the manifest names.
 * Every writer that starts a set draws a fresh random prefix, and every append changes the sizes.
 */
export function setVersion(prefix: string, first: number, sizes: readonly number[]): string {
  return `set:${prefix}:${first}:${sizes.join(',')}`;
}

/** FileInfo.version of a plain object: its ETag, the MD5 of its bytes. */
export function plainVersion(etag: string | undefined): string | undefined {
  return etag === undefined ? undefined : `md5:${etag}`;
}

/** The ETag a plain object's FileInfo.version names (plainVersion), or undefined for any other version. */
export function plainEtagOf(version: string | undefined): string | undefined {
  return version?.startsWith('md5:') ? version.slice('md5:'.length) : undefined;
}

/** A fresh, random segment prefix (Distribution's shape: `segments/<3 hex>/<37 hex>`). */
export function newSegmentPrefix(root: string, path: string): string {
  const hex = createHash('sha1').update(path).update(randomBytes(32)).digest('hex');
  return joinName(root, `segments/${hex.slice(0, 3)}/${hex.slice(3)}`);
}

export function joinName(root: string, rest: string): string {
  return root ? `${root}/${rest}` : rest;
}

/** Run-length form of the sizes, split over metadata headers; undefined when it would not fit. */
export function encodeSizes(first: number, sizes: readonly number[]): Record<string, string> | undefined {
  const runs: string[] = [];
  for (let i = 0; i < sizes.length; ) {
    let j = i;
    while (j < sizes.length && sizes[j] === sizes[i]) j++;
    runs.push(j - i === 1 ? String(sizes[i]) : `${sizes[i]}*${j - i}`);
    i = j;
  }
  const values: string[] = [];
  let current = `${first}:`;
  for (const run of runs) {
    if (current.length + run.length + 1 > MAX_META_VALUE) {
      values.push(current);
      current = '';
    }
    current += (current === '' || current.endsWith(':') ? '' : ',') + run;
  }
  values.push(current);
  if (values.length > MAX_META_KEYS) return undefined;
  const headers: Record<string, string> = {};
  values.forEach((v, i) => (headers[`x-object-meta-${SEGMENTS_META}${i === 0 ? '' : `-${i}`}`] = v));
  return headers;
}

export function decodeSizes(meta: Record<string, string>): { first: number; sizes: number[] } | undefined {
  let text = meta[SEGMENTS_META];
  if (text === undefined) return undefined;
  for (let i = 1; meta[`${SEGMENTS_META}-${i}`] !== undefined; i++) {
    const more = meta[`${SEGMENTS_META}-${i}`]!;
    text += (text.endsWith(':') ? '' : ',') + more;
  }
  const m = /^(\d+):(.*)$/.exec(text);
  if (!m) return undefined;
  const sizes: number[] = [];
  if (m[2] !== '') {
    for (const run of m[2]!.split(',')) {
      const r = /^(\d+)(?:\*(\d+))?$/.exec(run);
      if (!r) return undefined;
      const count = r[2] === undefined ? 1 : Number(r[2]);
      for (let k = 0; k < count; k++) sizes.push(Number(r[1]));
    }
  }
  return { first: Number(m[1]), sizes };
}

export function buildSet(prefix: string, first: number, sizes: readonly number[]): SegmentSet {
  const segments: Segment[] = [];
  let start = 0;
  sizes.forEach((size, i) => {
    segments.push({ name: segmentName(prefix, first + i), size, start });
    start += size;
  });
  return { prefix, segments, size: start };
}

/** The segment prefix a DLO manifest points at, when it is in this container. */
export function manifestPrefix(client: SwiftClient, manifest: string): string | undefined {
  const decoded = decodeURIComponent(manifest);
  const slash = decoded.indexOf('/');
  if (slash < 0) return undefined;
  if (decoded.slice(0, slash) !== client.container) return undefined;
  return decoded.slice(slash + 1);
}

/**
 * The segments of a DLO manifest: from regate's metadata when present, else from a listing of the
 * prefix completed with HEADs of the next numbers (listings lag; a segment, once written, is not).
 */
export async function resolveSegments(client: SwiftClient, info: ObjectInfo): Promise<SegmentSet> {
  const prefix = manifestPrefix(client, info.dloManifest!);
  if (prefix === undefined) throw new Error(`large object ${info.name} points at segments outside container ${client.container}`);
  const known = decodeSizes(info.meta);
  if (known) return buildSet(prefix, known.first, known.sizes);
  const listed: Array<{ name: string; size: number }> = [];
  for await (const entry of client.list({ prefix })) if (!entry.isSubdir) listed.push({ name: entry.name, size: entry.bytes });
  const last = listed.length > 0 ? NUMBERED.exec(listed[listed.length - 1]!.name) : null;
  let next = last ? Number(last[1]) + 1 : listed.length === 0 ? 0 : undefined;
  while (next !== undefined) {
    const head = await client.head(segmentName(prefix, next), false);
    if (!head) {
      // Segments are numbered from 1 (0 only for a plain object turned into a large one).
      if (next === 0) {
        next = 1;
        continue;
      }
      break;
    }
    listed.push({ name: head.name, size: head.bytes });
    next++;
  }
  const segments: Segment[] = [];
  let start = 0;
  for (const s of listed) {
    segments.push({ name: s.name, size: s.size, start });
    start += s.size;
  }
  return { prefix, segments, size: start };
}
