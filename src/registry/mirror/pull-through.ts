// The pull-through cache behind mirrored names (mirror-names.ts): what a pull asks for that is not
// stored yet is fetched from the upstream, checked against its digest, stored like a push, and then
// served from storage like anything else.
//
//   - Manifests by digest come from the cache once stored, without asking the upstream. By tag, the
//     upstream is asked (a HEAD: Docker Hub does not count those against its pull limits) at most
//     once per the mirror's tagttl; when it is down, slow or answers 429, the cached copy is served
//     and the condition logged and counted.
//   - A blob is fetched once however many ask at once: the first request streams it to its client
//     while storing it, and those who ask meanwhile get what arrived so far and then the rest as it
//     comes (kept in memory up to JOIN_KEEP_MAX_BYTES a blob and JOIN_BUDGET_BYTES in all; past
//     that they wait for it to be stored and are served from storage). Its bytes
//     go through an upload session and are committed only if their digest checks, so a lying or
//     truncated upstream never poisons the cache; the first client's last chunk is held back until
//     then (its download fails rather than completes with bad bytes), and the next request tries again.
//   - Replicas on one storage fill independently; the upload store's commit makes two fills of the
//     same blob store one blob.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import { Digest } from '../references.js';
import { RegistryError } from '../errors.js';
import { MANIFEST_MEDIA_TYPES, parseManifest } from '../manifests.js';
import type { RegistryStores } from '../context.js';
import { failureOfStatus, UpstreamError, type UpstreamFailure } from './upstream-client.js';
import type { MirrorNames, MirrorTarget } from './mirror-names.js';
import { recordMirrorBytes, recordMirrorError, recordMirrorHit, recordMirrorMiss } from '../../metrics/metrics.js';
import { DigestMismatchError } from '../../storage/store-errors.js';

const MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES].join(', ');
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** A first client that reads nothing for this long is cut off; the fill goes on for the others. */
const CLIENT_STALL_MS = 30_000;
/** How far the first client may fall behind the fill before the fill waits for it. */
const CLIENT_LAG_BYTES = 8 * 1024 * 1024;

/** A blob up to this size is kept in memory while it is fetched, so later askers stream it at once. */
const JOIN_KEEP_MAX_BYTES = 128 * 1024 * 1024;
/** What all fills under way may keep together; past it, later askers wait for storage instead. */
const JOIN_BUDGET_BYTES = 256 * 1024 * 1024;

/** A blob being fetched, as those who ask for it meanwhile see it. */
class BlobFill {
  done: Promise<void> = Promise.resolve();
  /** Every chunk so far, kept for askers who join (undefined: not kept; they wait for storage). */
  chunks: Buffer[] | undefined;
  length = 0;
  /** Bytes reserved from the join budget. */
  reserved = 0;
  settled: 'ok' | 'failed' | undefined;
  private waiting: Array<() => void> = [];

  wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }

  next(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/** Waits until a client can take more; one that reads nothing for CLIENT_STALL_MS is cut off. */
function waitForClient(client: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.off('drain', done);
      client.off('close', done);
      resolve();
    };
    const timer = setTimeout(() => {
      client.destroy();
      done();
    }, CLIENT_STALL_MS);
    client.on('drain', done);
    client.on('close', done);
  });
}

/** The upstream's Docker-Content-Digest, if it is one (a malformed header is as good as none). */
function digestHeader(value: string | string[] | undefined): Digest | undefined {
  if (typeof value !== 'string' || !Digest.isDigest(value)) return undefined;
  try {
    return Digest.parse(value);
  } catch {
    return undefined;
  }
}

function blobHeaders(digest: Digest, length: number | undefined): Record<string, string | number> {
  return {
    'Docker-Content-Digest': digest.toString(),
    ETag: `"${digest}"`,
    'Content-Type': 'application/octet-stream',
    ...(length !== undefined ? { 'Content-Length': length } : {}),
  };
}

export interface PullThroughLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
}

interface FetchedManifest {
  digest: Digest;
  content: Buffer;
}

export class PullThrough {
  /** Blob fills under way, by mirror and digest: later askers join the first. */
  private readonly fills = new Map<string, BlobFill>();
  /** Bytes the fills under way keep for askers who join them (at most JOIN_BUDGET_BYTES). */
  private keptBytes = 0;
  /** Manifest fetches under way, by repository and reference. */
  private readonly manifestFetches = new Map<string, Promise<void>>();
  /** When each mirrored tag was last confirmed with its upstream. */
  private readonly tagChecked = new LRUCache<string, number>({ max: 100_000 });

  constructor(
    readonly names: MirrorNames,
    private readonly stores: RegistryStores,
    private readonly logger?: PullThroughLogger,
  ) {}

  target(name: string): MirrorTarget | undefined {
    return this.names.of(name);
  }

  /**
   * Makes the manifest `reference` of a mirrored repository stored and, for a tag, current as the
   * mirror's tagttl allows; the caller then serves it from storage.
   */
  async refreshManifest(name: string, target: MirrorTarget, reference: string): Promise<void> {
    const key = `${name}\0${reference}`;
    let pending = this.manifestFetches.get(key);
    if (!pending) {
      pending = (Digest.isDigest(reference) ? this.manifestByDigest(name, target, Digest.parse(reference)) : this.manifestByTag(name, target, reference)).finally(() => this.manifestFetches.delete(key));
      this.manifestFetches.set(key, pending);
    }
    return pending;
  }

  private async manifestByDigest(name: string, target: MirrorTarget, digest: Digest): Promise<void> {
    const mirror = target.mirror.config.name;
    if (await this.stores.manifests.exists(name, digest)) return recordMirrorHit(mirror, 'manifest');
    recordMirrorMiss(mirror, 'manifest');
    const fetched = await this.fetchManifest(target, digest.toString(), digest).catch((err: unknown) => {
      throw this.failed(target, err, `manifest ${digest} of ${target.upstreamName}`);
    });
    await this.storeManifest(name, fetched);
  }

  private async manifestByTag(name: string, target: MirrorTarget, tag: string): Promise<void> {
    const mirror = target.mirror.config.name;
    const cached = await this.stores.tags.resolve(name, tag);
    const key = `${name}:${tag}`;
    const checkedAt = this.tagChecked.get(key);
    if (cached && checkedAt !== undefined && Date.now() - checkedAt < target.mirror.config.tagTtlMs) return recordMirrorHit(mirror, 'manifest');
    try {
      const head = await target.mirror.client.fetch('HEAD', target.upstreamName, `manifests/${tag}`, { accept: MANIFEST_ACCEPT });
      head.resume();
      const failure = failureOfStatus(head.statusCode ?? 0);
      if (failure) throw new UpstreamError(failure, `HTTP ${head.statusCode}`, head.statusCode);
      const upstreamDigest = digestHeader(head.headers['docker-content-digest']);
      // Claimed before it is looked for, as a push's manifest is: a GC pass running now keeps what
      // the tag is about to point at.
      const stored = upstreamDigest ? await this.stores.blobs.claimAnd([upstreamDigest], () => this.stores.manifests.exists(name, upstreamDigest)) : undefined;
      if (cached && upstreamDigest && upstreamDigest.equals(cached) && stored?.checked) {
        this.tagChecked.set(key, Date.now());
        return recordMirrorHit(mirror, 'manifest');
      }
      recordMirrorMiss(mirror, 'manifest');
      const fetched = stored?.checked ? undefined : await this.fetchManifest(target, upstreamDigest?.toString() ?? tag, upstreamDigest);
      const digest = fetched?.digest ?? upstreamDigest!;
      if (fetched) await this.storeManifest(name, fetched);
      else await this.stores.blobs.refreshClaim(stored!.claim);
      await this.stores.tags.tag(name, tag, digest);
      this.tagChecked.set(key, Date.now());
    } catch (err) {
      if (err instanceof UpstreamError && err.kind === 'not_found') {
        recordMirrorError(mirror, 'not_found');
        throw new RegistryError('MANIFEST_UNKNOWN', { name, reference: tag }, { message: `manifest unknown to the upstream ${target.mirror.client.origin.host}` });
      }
      const reason = err instanceof UpstreamError ? err.kind : 'unreachable';
      if (cached && (err instanceof UpstreamError || (err as NodeJS.ErrnoException).code !== undefined)) {
        // Served from the cache: the point of having one when the upstream is down or limiting. Not
        // asked again before tagttl either: a limiting upstream is not sent more requests.
        this.tagChecked.set(key, Date.now());
        recordMirrorError(mirror, reason);
        this.logger?.warn(`mirror ${mirror}: serving the cached ${name}:${tag}; the upstream failed (${reason}): ${(err as Error).message}`, { mirror, repository: name, tag, reason });
        return;
      }
      throw this.failed(target, err, `${target.upstreamName}:${tag}`);
    }
  }

  /** GET of a manifest from the upstream, checked against `expected` (or the digest it says). */
  private async fetchManifest(target: MirrorTarget, reference: string, expected: Digest | undefined): Promise<FetchedManifest> {
    const res = await target.mirror.client.fetch('GET', target.upstreamName, `manifests/${reference}`, { accept: MANIFEST_ACCEPT });
    const failure = failureOfStatus(res.statusCode ?? 0) ?? (res.statusCode === 200 ? undefined : 'refused');
    if (failure) {
      res.resume();
      throw new UpstreamError(failure, `HTTP ${res.statusCode}`, res.statusCode);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_MANIFEST_BYTES) throw new UpstreamError('refused', `the manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
      chunks.push(chunk);
    }
    recordMirrorBytes(target.mirror.config.name, size);
    const content = Buffer.concat(chunks);
    const wanted = expected ?? digestHeader(res.headers['docker-content-digest']);
    const digest = Digest.ofContent(content, wanted?.algorithm);
    if (wanted && !wanted.equals(digest)) throw new UpstreamError('digest', `the upstream sent a manifest whose digest is ${digest}, not ${wanted}`);
    // Whatever answered 200 must also be a manifest (not a proxy's HTML page) before it is cached.
    try {
      parseManifest(content);
    } catch {
      throw new UpstreamError('refused', 'the upstream\'s answer is not a manifest');
    }
    return { digest, content };
  }

  private async storeManifest(name: string, { digest, content }: FetchedManifest): Promise<void> {
    const parsed = (() => {
      try {
        return parseManifest(content);
      } catch {
        return undefined;
      }
    })();
    // Claimed like a push's manifest, so a GC pass running now keeps it.
    const claim = await this.stores.blobs.claim([digest]);
    await this.stores.referrers.beforePut(name);
    await this.stores.manifests.put(name, digest, content);
    await this.stores.blobs.refreshClaim(claim);
    if (parsed) await this.stores.referrers.record(name, digest, content, parsed);
  }

  /**
   * A GET of a blob that is not in the repository yet. True when this request answered it (it
   * started the fill and streamed it); false when the blob is stored now and the caller serves it.
   */
  async fillBlob(name: string, target: MirrorTarget, digest: Digest, res: ServerResponse | undefined): Promise<boolean> {
    const mirror = target.mirror.config.name;
    if (await this.stores.blobs.stat(name, digest)) {
      recordMirrorHit(mirror, 'blob');
      return false;
    }
    if (await this.linkIfUpstreamHasIt(name, target, digest)) return false;
    // One fill per mirror and digest: its askers are, by then, asking that upstream for that blob.
    const key = `${mirror}\0${digest}`;
    const running = this.fills.get(key);
    if (running) {
      // Streamed from the fill as it arrives, when it is kept; else served from storage once stored.
      if (res && running.chunks) return this.streamJoined(running, digest, res);
      await running.done.catch(() => undefined);
      if (await this.stores.blobs.stat(name, digest)) return false;
      if (await this.linkIfUpstreamHasIt(name, target, digest)) return false;
      throw new RegistryError('UNAVAILABLE', { digest: digest.toString() }, { message: `the blob could not be fetched from the upstream ${target.mirror.client.origin.host}; try again` });
    }
    recordMirrorMiss(mirror, 'blob');
    let answered = false;
    const fill = new BlobFill();
    this.fills.set(key, fill);
    fill.done = this.fetchBlob(name, target, digest, res, () => (answered = true), fill);
    try {
      await fill.done;
    } finally {
      this.fills.delete(key);
      this.keptBytes -= fill.reserved;
    }
    return answered;
  }

  /** A later asker of a blob being fetched: its bytes so far, then the rest as they come; the last chunk once the digest checks. */
  private async streamJoined(fill: BlobFill, digest: Digest, res: ServerResponse): Promise<boolean> {
    res.writeHead(200, blobHeaders(digest, fill.length));
    for (let i = 0; ; ) {
      if (res.destroyed) return true;
      const chunks = fill.chunks!;
      const sendable = fill.settled === 'ok' ? chunks.length : Math.max(0, chunks.length - 1);
      if (i < sendable) {
        if (!res.write(chunks[i++]!)) await waitForClient(res);
        continue;
      }
      if (fill.settled === 'ok') {
        res.end();
        return true;
      }
      if (fill.settled === 'failed') {
        res.destroy();
        return true;
      }
      await fill.next();
    }
  }

  /**
   * The blob is stored already (for another repository: a push, another mirrored name): it is linked
   * here only once the upstream says this repository has it, so a mirrored name never reads what
   * the upstream would not give it (a private layer pushed here, under its digest).
   */
  private async linkIfUpstreamHasIt(name: string, target: MirrorTarget, digest: Digest): Promise<boolean> {
    if ((await this.stores.blobs.globalSize(digest)) === undefined) return false;
    const upstreamSize = await this.headBlob(target, digest);
    if (upstreamSize === undefined) throw new RegistryError('BLOB_UNKNOWN', { digest: digest.toString() });
    const { claim, checked: size } = await this.stores.blobs.claimAnd([digest], () => this.stores.blobs.globalSize(digest));
    if (size === undefined || size !== upstreamSize) return false; // gone meanwhile, or not what the upstream has: fetch it
    await this.stores.blobs.refreshClaim(claim);
    await this.stores.blobs.link(name, digest, size);
    recordMirrorHit(target.mirror.config.name, 'blob');
    return true;
  }


  /** Fetches and stores the blob; streams it to `res` too when given (then `started` is called). */
  private async fetchBlob(name: string, target: MirrorTarget, digest: Digest, res: ServerResponse | undefined, started: () => void, fill: BlobFill): Promise<void> {
    const mirror = target.mirror.config.name;
    let upstream: IncomingMessage;
    try {
      upstream = await target.mirror.client.fetch('GET', target.upstreamName, `blobs/${digest}`);
    } catch (err) {
      throw this.failed(target, err, `blob ${digest}`);
    }
    const failure = failureOfStatus(upstream.statusCode ?? 0);
    if (failure || upstream.statusCode !== 200) {
      upstream.resume();
      if (failure === 'not_found') throw new RegistryError('BLOB_UNKNOWN', { digest: digest.toString() });
      throw this.failed(target, new UpstreamError(failure ?? 'refused', `HTTP ${upstream.statusCode}`, upstream.statusCode), `blob ${digest}`);
    }
    let id: string;
    try {
      id = await this.stores.uploads.create(name);
    } catch (err) {
      upstream.destroy();
      throw err;
    }
    const declared = Number(upstream.headers['content-length']);
    const length = Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined;
    res?.writeHead(200, blobHeaders(digest, length));
    if (res) started();
    // Kept for askers who join, when its length is known and the budget has room.
    if (length !== undefined && length <= JOIN_KEEP_MAX_BYTES && this.keptBytes + length <= JOIN_BUDGET_BYTES) {
      fill.chunks = [];
      fill.length = length;
      fill.reserved = length;
      this.keptBytes += length;
    }
    const client = res;
    let held: Buffer | undefined;
    const toClient = async (chunk: Buffer): Promise<void> => {
      if (!client || client.destroyed || client.writableEnded) return; // the client left: the fill goes on
      // Storage goes at the upstream's pace until the client is CLIENT_LAG_BYTES behind.
      if (client.write(chunk) || client.writableLength < CLIENT_LAG_BYTES) return;
      // A client that stops reading must not hold up the fill the others are waiting for.
      await waitForClient(client);
    };
    // Each chunk goes to storage first, and to the client one chunk behind: the last one only
    // once the digest has been checked.
    // The client's write of one chunk runs while storage takes the next.
    let sending: Promise<void> = Promise.resolve();
    async function* tee(): AsyncGenerator<Buffer> {
      for await (const chunk of upstream as AsyncIterable<Buffer>) {
        recordMirrorBytes(mirror, chunk.length);
        if (fill.chunks) {
          fill.chunks.push(chunk);
          fill.wake();
        }
        if (held) {
          await sending;
          sending = toClient(held);
        }
        held = chunk;
        yield chunk;
      }
      await sending;
    }
    try {
      await this.stores.uploads.append(name, id, tee());
      await this.stores.uploads.commit(name, id, digest);
    } catch (err) {
      await this.stores.uploads.cancel(name, id).catch(() => undefined);
      const kind: UpstreamFailure = err instanceof DigestMismatchError ? 'digest' : err instanceof UpstreamError ? err.kind : 'unreachable';
      recordMirrorError(mirror, kind);
      this.logger?.warn(`mirror ${mirror}: the blob ${digest} of ${target.upstreamName} was not stored (${kind}): ${(err as Error).message}`, { mirror, digest: digest.toString(), reason: kind });
      upstream.destroy();
      fill.settled = 'failed';
      fill.wake();
      client?.destroy();
      throw err;
    }
    fill.settled = 'ok';
    fill.wake();
    if (held) await toClient(held);
    client?.end();
  }

  /** Records that a mirrored manifest was pulled, for its mirror's ttl (mirror-pulls.ts). Never throws. */
  notePull(name: string, target: MirrorTarget, digest: Digest): void {
    const ttl = target.mirror.config.ttlMs;
    if (ttl > 0) void this.stores.mirrorPulls.note(name, digest, ttl);
  }

  /** HEAD of a blob not stored here: the upstream's answer, nothing fetched. */
  async headBlob(target: MirrorTarget, digest: Digest): Promise<number | undefined> {
    try {
      const head = await target.mirror.client.fetch('HEAD', target.upstreamName, `blobs/${digest}`);
      head.resume();
      if (head.statusCode === 404) return undefined;
      const failure = failureOfStatus(head.statusCode ?? 0);
      if (failure) throw new UpstreamError(failure, `HTTP ${head.statusCode}`, head.statusCode);
      const length = Number(head.headers['content-length']);
      return Number.isSafeInteger(length) ? length : undefined;
    } catch (err) {
      throw this.failed(target, err, `blob ${digest}`);
    }
  }

  /** An upstream failure as the client sees it: counted, logged, and a 503 (or 429) in the envelope. */
  private failed(target: MirrorTarget, err: unknown, what: string): RegistryError {
    if (err instanceof RegistryError) return err;
    const mirror = target.mirror.config.name;
    const kind: UpstreamFailure = err instanceof UpstreamError ? err.kind : 'unreachable';
    recordMirrorError(mirror, kind);
    this.logger?.warn(`mirror ${mirror}: ${what} could not be fetched (${kind}): ${(err as Error).message}`, { mirror, reason: kind });
    const host = target.mirror.client.origin.host;
    if (kind === 'rate_limited') return new RegistryError('TOOMANYREQUESTS', { mirror }, { message: `the upstream ${host} is limiting requests; try again later`, headers: { 'Retry-After': '60' } });
    if (kind === 'not_found') return new RegistryError('NAME_UNKNOWN', { mirror, name: target.upstreamName }, { status: 404, message: `unknown to the upstream ${host}` });
    return new RegistryError('UNAVAILABLE', { mirror, reason: kind }, { message: `the upstream ${host} could not be reached for ${what} (${kind})` });
  }
}
