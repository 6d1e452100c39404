// Upload sessions. Their whole state lives in storage (`_uploads/<id>/{startedat,data}`), so any
// process can continue an upload another one started, and a restart loses nothing. The running
// hash kept in memory is only a fast path: without it the digest is recomputed from stored bytes.
// A blob becomes visible only after its digest is verified (commit = verify, then move into place).
import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { OffThreadHash, type RunningHash } from './running-hash.js';
import { acquireBatch, BATCH_BYTES, batchWaiters, copyIntoShared, releaseBatch, tryAcquireBatch } from './upload-batches.js';
import type { StorageDriver, FileInfo, FileWriter } from './driver.js';
import type { Claim } from './gc-fence.js';
import { DIRECTORY_ONLY, FILE_ONLY, PathNotFoundError, WHOLE_FILE, WriteConflictError } from './driver.js';
import { pathFor, type DigestParts } from './paths.js';
import { digestString, unlessMissing } from './links.js';
import type { BlobDescriptor, BlobStore } from './blob-store.js';
import { HashStateCache, type HashState } from './hash-state-cache.js';
import { KeyedMutex } from './keyed-mutex.js';
import { noteReceived } from './garbage-pacer.js';
import { BodySizeError, DigestMismatchError, UploadOffsetError, UploadUnknownError } from './store-errors.js';
import { uploadEnded, uploadStarted } from '../metrics/metrics.js';

/**
 * What a writer is told of the data it appends to: read and found missing, read and found there
 * (the writer looks again itself), or not read because the session was created here and not
 * written yet (WriterOptions.unread: where the backend refuses creates, the create is the look).
 */
type DataKnown = 'missing' | 'present' | 'unread';

/** Where a commit's claim left the blob: its stored size (undefined: missing), and whether this commit copied it there. */
interface Placed {
  stored: number | undefined;
  copied?: boolean;
}

/** An upload's data as its writer left it. */
interface StoredData {
  size: number;
  version?: string | undefined;
}

export interface AppendOptions {
  /** Where the client says the chunk starts (Content-Range); undefined appends at the end. */
  startOffset?: number;
  /** The body must deliver exactly this many bytes (Content-Length, when the client sent one). */
  expectedLength?: number;
  /** The upload may not grow past this many bytes; 0 or undefined is unlimited. */
  maxTotalBytes?: number;
}

/**
 * Batches per upload: one filling from the socket while the others are hashed and written. Three
 * let a lone upload keep its socket flowing through the hash worker's hiccups (measured faster
 * than two); with several uploads at once the worker is busy anyway, and two each keep memory flat.
 */
const BATCHES_ALONE = 3;
const BATCHES_WHEN_BUSY = 2;

/**
 * How long a body may send nothing while holding batches other uploads wait for: then it gives
 * them back. Long enough that a client between two TCP windows keeps its pipeline.
 */
const IDLE_RELEASE_MS = 250;
const IDLE = Symbol('idle');

/** How long a session created here counts as untouched (its first PATCH comes at once). */
const FRESH_SESSION_MS = 60_000;

/**
 * How often one commit judges the session again after its data changed or vanished under it (each
 * time another process was writing or committing it at that moment); then the error stands.
 */
const READS_AGAIN = 3;

/** The algorithm whose running hash is kept; other algorithms are verified by re-reading. */
const FAST_PATH_ALGORITHM = 'sha256';

export class UploadStore {
  private readonly hashes = new HashStateCache();
  private readonly locks = new KeyedMutex();
  /**
   * One commit at a time per digest: two uploads of the same missing blob (CI jobs pushing one base
   * layer) would otherwise both move their bytes into place, and on an object store the loser's
   * segments would be named by nothing, kept forever. The second finds the blob and drops its copy.
   */
  private readonly blobLocks = new KeyedMutex();
  /**
   * Sessions this process created and has not written to yet: their first PATCH knows the session
   * exists without reading its start time. (A cancel through another process in between leaves
   * data with no start time: the purger ages it by the data.) Its data is not read either, but
   * opened `unread`: behind a load balancer another process may have written it already, so the
   * driver creates it only if it is still missing (Swift refuses the create, before any byte) or,
   * where the backend cannot refuse a create (Ceph RGW ignores If-None-Match), looks first.
   */
  private readonly created = new LRUCache<string, true>({ max: 10_000, ttl: FRESH_SESSION_MS });
  /** Moves into the blob store made by this process so far (commitLocked compares before and after). */
  private movesDone = 0;
  /** Bodies being received right now (sizes the batch pipeline). */
  private receiving = 0;

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
  ) {}

  async create(name: string): Promise<string> {
    const id = randomUUID();
    await this.driver.putContent(pathFor({ kind: 'uploadStartedAt', name, id }), Buffer.from(new Date().toISOString()));
    this.created.set(this.key(name, id), true);
    return id;
  }

  /** Bytes received so far. UploadUnknownError when there is no such session. */
  async size(name: string, id: string): Promise<number> {
    await this.requireSession(name, id);
    return this.dataSize(name, id);
  }

  /** Streams a chunk onto the end of the upload and returns the new size. */
  async append(name: string, id: string, body: AsyncIterable<Buffer>, options: AppendOptions = {}): Promise<number> {
    return this.locks.run(this.key(name, id), async () => {
      return (await this.appendLocked(name, id, body, options, await this.dataKnown(name, id))).size;
    });
  }

  /**
   * Appends an optional last chunk, verifies the digest of everything received, then moves the bytes
   * into the blob store and links the blob into the repository. A mismatch cancels the upload.
   */
  async commit(
    name: string,
    id: string,
    digest: DigestParts,
    lastChunk?: { body: AsyncIterable<Buffer>; options: AppendOptions },
    options: { fresh?: boolean } = {},
  ): Promise<BlobDescriptor> {
    return this.locks.run(this.key(name, id), async () => {
      if (lastChunk) {
        // A session created by this very request (a monolithic POST) has nothing stored yet.
        if (options.fresh) this.created.delete(this.key(name, id));
        const known = options.fresh ? 'missing' : await this.dataKnown(name, id);
        // What the last chunk's writer stored is what the move must still find (its precondition).
        return this.commitLocked(name, id, digest, await this.appendLocked(name, id, lastChunk.body, lastChunk.options, known), false);
      }
      // This process wrote the session's data, and its running hash knows that content's version:
      // the commit goes ahead on it without reading the session back. Whether nobody wrote since
      // is for the digest and the move's precondition to find out (commitLocked, `unread`).
      const known = this.hashes.peek(this.key(name, id));
      if (known?.version !== undefined && known.offset > 0 && digest.algorithm === FAST_PATH_ALGORITHM) {
        return this.commitLocked(name, id, digest, { size: known.offset, version: known.version }, true);
      }
      return this.commitLocked(name, id, digest, await this.sessionData(name, id), false);
    });
  }

  /**
   * `unread`: `data` was not read from storage but is what this process wrote (another process may
   * have written since: a load balancer sends PATCHes anywhere). A digest that does not match it
   * then cancels nothing: the session is read and the commit judged on what is stored. A move that
   * finds other content reads the session too: at another size the client learns where the upload
   * is (416); at the same size (another process rewrote it) the stored bytes are verified again.
   */
  private async commitLocked(name: string, id: string, digest: DigestParts, data: StoredData | undefined, unread: boolean, readsAgain = 0): Promise<BlobDescriptor> {
    const dataPath = pathFor({ kind: 'uploadData', name, id });
    if (!data || data.size === 0) {
      // An empty upload has no data object yet; the empty blob is still a valid blob. Its version
      // is what the move must still find.
      await this.driver.putContent(dataPath, Buffer.alloc(0));
      data = await this.dataInfo(name, id);
    }
    const size = data?.size ?? 0;
    const actual = await this.digestOf(name, id, digest.algorithm, size, data?.version);
    if (actual !== digest.encoded && unread) return this.commitLocked(name, id, digest, await this.sessionData(name, id), false);
    if (actual !== digest.encoded) {
      await this.cancelLocked(name, id);
      throw new DigestMismatchError(digestString(digest), `${digest.algorithm}:${actual}`);
    }
    // Claimed before looking for an existing copy: a GC pass must not sweep the copy this reuses.
    const movesBefore = this.movesDone;
    // The data changed (another process appended) or is gone (the session was committed or
    // cancelled elsewhere): judged again on what is stored (404 when the session is gone).
    const judgeAgain = (err: unknown): boolean =>
      (err instanceof PathNotFoundError || (unread && err instanceof WriteConflictError)) && readsAgain < READS_AGAIN;
    const copyable = data?.version !== undefined && this.blobs.copies ? data.version : undefined;
    let placed: { claim: Claim; checked: Placed };
    try {
      placed =
        copyable === undefined
          ? await this.blobs.claimAnd([digest], async () => ({ stored: await this.blobs.globalSize(digest) }))
          : // Where the data can be copied in one request, the copy goes beside the claim's last reads
            // (the blob's existence read beside its use-marker write, as a hint): the data stays
            // until the claim holds, so a pass that condemned the blob meanwhile costs a second copy.
            await this.blobs.claimAnd(
              [digest],
              (hint) => this.copyIntoPlace(dataPath, digest, size, copyable, hint?.size, hint !== undefined && this.movesDone === movesBefore),
              async () => ({ size: await this.blobs.globalSize(digest) }),
            );
    } catch (err) {
      if (judgeAgain(err)) return this.commitReadAgain(name, id, digest, size, readsAgain);
      throw await this.conflictAsOffset(err, name, id, size);
    }
    const { claim, checked } = placed;
    let dataMoved = false;
    if (!checked.copied && checked.stored !== size) {
      const moved = await this.blobLocks.run(digestString(digest), async (contended): Promise<boolean | 'read again'> => {
        // A commit in this process (of this digest, maybe) that waited for or finished a move since
        // the look above may have stored the blob meanwhile: look again.
        const existing = contended || this.movesDone !== movesBefore ? await this.blobs.globalSize(digest) : checked.stored;
        if (existing === size) return false;
        // Only the content whose digest was just checked moves: another process appending to the
        // same session meanwhile makes the move refuse (416, nothing committed), not commit its bytes.
        try {
          await this.blobs.adopt(dataPath, digest, data?.version, existing === undefined);
          this.movesDone++;
        } catch (err) {
          if (judgeAgain(err)) return 'read again';
          throw await this.conflictAsOffset(err, name, id, size);
        }
        return true;
      });
      if (moved === 'read again') return this.commitReadAgain(name, id, digest, size, readsAgain);
      dataMoved = moved;
    }
    await this.blobs.refreshClaim(claim);
    // The session's leftovers go beside the link (copied data too: the claim holds now); what was
    // moved is gone already.
    await Promise.all([this.blobs.link(name, digest, size), this.endSession(name, id, dataMoved ? undefined : { version: data?.version })]);
    return { digest, size };
  }

  /**
   * Puts the verified data in place by a copy (BlobStore.copyIn), unless the blob is there at this
   * size already. `hint`: the blob's size as read beside the claim's write; its "missing" is
   * trusted when it `hintHolds` (read in this round, and no commit in this process stored a blob
   * since) and no commit of this digest held the lock meanwhile; otherwise the blob is looked at.
   */
  private async copyIntoPlace(
    dataPath: string,
    digest: DigestParts,
    size: number,
    version: string,
    hint: number | undefined,
    hintHolds: boolean,
  ): Promise<Placed> {
    return this.blobLocks.run(digestString(digest), async (contended) => {
      // A hint that the blob is missing is acted on at once (the copy only adds it); one that it is
      // there is looked at again, beside the condemned read: read before the claim's write, it may
      // predate a pass deleting the blob.
      const existing = hintHolds && !contended && hint === undefined ? undefined : await this.blobs.globalSize(digest);
      if (existing === size) return { stored: existing };
      if (!(await this.blobs.copyIn(dataPath, digest, version))) return { stored: existing };
      this.movesDone++;
      return { stored: size, copied: true };
    });
  }

  /**
   * A commit whose data changed or vanished under it (another process appended, rewrote, committed
   * or cancelled it): judged again on what is stored.
   */
  private async commitReadAgain(name: string, id: string, digest: DigestParts, size: number, readsAgain: number): Promise<BlobDescriptor> {
    const now = await this.sessionData(name, id);
    if ((now?.size ?? 0) !== size) throw new UploadOffsetError(now?.size ?? 0, size);
    return this.commitLocked(name, id, digest, now, false, readsAgain + 1);
  }

  async cancel(name: string, id: string): Promise<void> {
    await this.locks.run(this.key(name, id), async () => {
      await this.requireSession(name, id);
      await this.cancelLocked(name, id);
    });
  }

  /** Returns what the data holds afterwards, as its writer stored it. */
  private async appendLocked(name: string, id: string, body: AsyncIterable<Buffer>, options: AppendOptions, known: DataKnown): Promise<StoredData> {
    uploadStarted();
    try {
      return await this.receive(name, id, body, options, known);
    } finally {
      uploadEnded();
    }
  }

  private async receive(name: string, id: string, body: AsyncIterable<Buffer>, options: AppendOptions, known: DataKnown): Promise<StoredData> {
    const key = this.key(name, id);
    const path = pathFor({ kind: 'uploadData', name, id });
    const open = (k: DataKnown): Promise<FileWriter> =>
      // What a session holds is always a prefix of what its client sent, resumed from there.
      this.driver.writer(path, true, { expectedBytes: options.expectedLength, missing: k === 'missing', unread: k === 'unread', prefixMayShow: true });
    const writer = await open(known)
      .catch((err: unknown) => {
        // Another process wrote the data after all (a load balancer sent it an earlier PATCH); no
        // byte of this body was taken: look, and append to what is there.
        if (known === 'unread' && err instanceof WriteConflictError) return open('present');
        throw err;
      })
      .catch(async (err: unknown) => {
        throw await this.conflictAsOffset(err, name, id, options.startOffset ?? 0);
      });
    const start = writer.size;
    if (options.startOffset !== undefined && options.startOffset !== start) {
      await writer.close();
      throw new UploadOffsetError(start, options.startOffset);
    }
    let state: HashState | undefined = this.hashes.take(key);
    // The running hash goes on only over the very content it has seen: the same size is not enough
    // when another process may have replaced the session's data with other bytes meanwhile.
    if (state?.offset !== start || state.version !== writer.version) {
      state?.hash.dispose();
      state = start === 0 ? { hash: new OffThreadHash(), offset: 0 } : undefined;
    }
    let received: number;
    try {
      const pumped = await this.pump(body, writer, state?.hash, start, options);
      received = pumped.received;
      if (state && !pumped.hashIntact) {
        // The hash worker failed midway: the upload goes on, the commit re-reads the stored bytes.
        state.hash.dispose();
        state = undefined;
      }
    } catch (err) {
      // The hash may have seen bytes the driver never stored: drop it, the digest will be re-read.
      state?.hash.dispose();
      if (err instanceof BodySizeError) await this.cancelLocked(name, id);
      throw await this.conflictAsOffset(err, name, id, start);
    }
    // Closing can find another writer won (the set was claimed, moved or replaced meanwhile).
    await writer.close().catch(async (err: unknown) => {
      state?.hash.dispose();
      throw await this.conflictAsOffset(err, name, id, start);
    });
    if (writer.size !== start + received) {
      // What is stored is not this body after what was there (a writer that had to stop early):
      // the running hash does not describe it, and the stored size is the truth.
      state?.hash.dispose();
      return { size: writer.size, version: writer.version };
    }
    if (state) this.hashes.put(key, { hash: state.hash, offset: start + received, version: writer.version });
    return { size: start + received, version: writer.version };
  }

  /**
   * Body → batch → (hash ‖ driver). Batches take turns: one fills from the socket while the others
   * are hashed and written, and the socket is read no faster than both keep up with, so
   * backpressure reaches the client and memory stays at a few batches. A body that stops arriving
   * while other uploads wait for a batch gives its batches back (what it had is written) and takes
   * one again when bytes come: slow or stalled clients never hold the budget others need.
   */
  private async pump(
    body: AsyncIterable<Buffer>,
    writer: FileWriter,
    hash: RunningHash | undefined,
    start: number,
    options: AppendOptions,
  ): Promise<{ received: number; hashIntact: boolean }> {
    const limit = options.maxTotalBytes ? options.maxTotalBytes : Infinity;
    const expected = options.expectedLength;
    let batches: Buffer[] = [];
    let inFlight: Array<Promise<void> | undefined> = [];
    let current = 0;
    let filled = 0;
    let received = 0;
    let hashIntact = true;

    // One batch is needed to move at all (waited for under the global budget); the pipeline's
    // further depth is taken only when free, so a crowd of uploads shares the budget.
    const take = async (): Promise<void> => {
      const taken = [await acquireBatch()];
      const depth = this.receiving > 1 ? BATCHES_WHEN_BUSY : BATCHES_ALONE;
      while (taken.length < depth) {
        const extra = tryAcquireBatch();
        if (!extra) break;
        taken.push(extra);
      }
      batches = taken;
      inFlight = taken.map(() => undefined);
      current = 0;
    };

    const flush = async (): Promise<void> => {
      if (filled === 0) return;
      const view = batches[current]!.subarray(0, filled);
      // A failed hash must not fail the upload: the digest can always be recomputed from storage.
      const hashing = hash && hashIntact ? hash.update(view).catch(() => void (hashIntact = false)) : undefined;
      const work = Promise.all([hashing, writer.write(view)]).then(() => undefined);
      work.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
      inFlight[current] = work;
      current = (current + 1) % batches.length;
      filled = 0;
      const previous = inFlight[current];
      inFlight[current] = undefined;
      if (previous) await previous;
    };

    const giveBack = async (): Promise<void> => {
      await flush();
      for (const work of inFlight) if (work) await work;
      const given = batches;
      batches = [];
      inFlight = [];
      given.forEach(releaseBatch);
    };

    // Fires when no byte came for IDLE_RELEASE_MS; acted on only when someone waits for a batch.
    let wakeIdle: (() => void) | undefined;
    const idleTimer = setTimeout(function check() {
      if (wakeIdle && batchWaiters() > 0) wakeIdle();
      else idleTimer.refresh();
    }, IDLE_RELEASE_MS);
    idleTimer.unref();
    const idle = (): Promise<typeof IDLE> => new Promise((resolve) => (wakeIdle = () => resolve(IDLE)));

    this.receiving++;
    const chunks = body[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<Buffer>> | undefined;
    let ended = false;
    try {
      await take();
      for (;;) {
        pending ??= chunks.next();
        const step = batches.length > 0 ? await Promise.race([pending, idle()]) : await pending;
        wakeIdle = undefined;
        if (step === IDLE) {
          await giveBack();
          continue;
        }
        pending = undefined;
        idleTimer.refresh();
        if (step.done) {
          ended = true;
          break;
        }
        const chunk = step.value;
        received += chunk.length;
        noteReceived(chunk.length);
        if (expected !== undefined && received > expected) {
          throw new BodySizeError(`body is longer than the announced ${expected} bytes`, false);
        }
        if (start + received > limit) throw new BodySizeError(`upload exceeds the limit of ${limit} bytes`, true);
        if (batches.length === 0) await take();
        let offset = 0;
        while (offset < chunk.length) {
          const n = Math.min(chunk.length - offset, BATCH_BYTES - filled);
          copyIntoShared(batches[current]!, filled, chunk.subarray(offset, offset + n));
          filled += n;
          offset += n;
          if (filled === BATCH_BYTES) await flush();
        }
      }
      if (expected !== undefined && received !== expected) {
        throw new BodySizeError(`body ended after ${received} of the announced ${expected} bytes`, false);
      }
      await flush();
      for (const work of inFlight) if (work) await work;
    } catch (err) {
      // A broken connection keeps what was stored (whole batches), so the client can ask for the
      // offset and resume; a body the upload cannot accept drops the whole session.
      await Promise.allSettled(inFlight);
      if (err instanceof BodySizeError) {
        await writer.cancel().catch(() => undefined);
      } else {
        if (filled > 0) await writer.write(batches[current]!.subarray(0, filled)).catch(() => undefined);
        await writer.close().catch(() => undefined);
      }
      // As a for-await loop would: the body is not read any further.
      if (!ended) await chunks.return?.().catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(idleTimer);
      this.receiving--;
      await Promise.allSettled(inFlight);
      batches.forEach(releaseBatch);
    }
    return { received, hashIntact };
  }

  /**
   * The digest of the stored upload: the running hash when it has consumed exactly the stored
   * content (its size and, where the driver names contents, its version), else a re-read.
   */
  private async digestOf(name: string, id: string, algorithm: string, size: number, version: string | undefined): Promise<string> {
    const state = this.hashes.take(this.key(name, id));
    if (state && state.offset === size && state.version === version && algorithm === FAST_PATH_ALGORITHM) {
      try {
        return await state.hash.digest();
      } catch {
        // The hash worker failed; the stored bytes are the truth.
      }
    } else {
      state?.hash.dispose();
    }
    const hash = createHash(algorithm);
    // Exactly the bytes whose size was read: what another process appends meanwhile is for the
    // move's precondition to refuse (416), not a mismatch that would cancel the session.
    const stream = await this.driver.reader(pathFor({ kind: 'uploadData', name, id }), { offset: 0, length: size });
    for await (const chunk of stream) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  private async cancelLocked(name: string, id: string): Promise<void> {
    this.hashes.delete(this.key(name, id));
    this.created.delete(this.key(name, id));
    try {
      await this.driver.delete(pathFor({ kind: 'uploadDir', name, id }), DIRECTORY_ONLY);
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
  }

  /**
   * Another process started or appended to this session's data at the same moment (object stores
   * cannot lock): it goes on, none of our bytes went in, and the client learns where the upload
   * really is (416). Any other error is returned as it is.
   */
  private async conflictAsOffset(err: unknown, name: string, id: string, claimedStart: number): Promise<unknown> {
    return err instanceof WriteConflictError ? new UploadOffsetError(await this.dataSize(name, id), claimedStart) : err;
  }

  /** What a writer is told of the session's data (DataKnown). UploadUnknownError when there is no session. */
  private async dataKnown(name: string, id: string): Promise<DataKnown> {
    if (this.takeCreated(name, id)) return 'unread';
    return (await this.sessionData(name, id)) === undefined ? 'missing' : 'present';
  }

  /** Whether the session was created here and not written yet; it no longer counts as such. */
  private takeCreated(name: string, id: string): boolean {
    const key = this.key(name, id);
    const created = this.created.get(key) !== undefined;
    this.created.delete(key);
    return created;
  }

  /**
   * A commit's cleanup, by name rather than by listing the session: its data (undefined: moved
   * into the blob store, gone already; else what the commit found there, by its version) and its
   * start time.
   */
  private async endSession(name: string, id: string, leftover: { version?: string | undefined } | undefined): Promise<void> {
    this.hashes.delete(this.key(name, id));
    this.created.delete(this.key(name, id));
    await Promise.all([
      leftover && unlessMissing(() => this.driver.delete(pathFor({ kind: 'uploadData', name, id }), { file: true, version: leftover.version })),
      unlessMissing(() => this.driver.delete(pathFor({ kind: 'uploadStartedAt', name, id }), WHOLE_FILE)),
    ]);
  }

  /**
   * The session's data (undefined: none yet), read beside the check that the session exists.
   * UploadUnknownError when it does not.
   */
  private async sessionData(name: string, id: string): Promise<FileInfo | undefined> {
    const [, data] = await Promise.all([this.requireSession(name, id), this.dataInfo(name, id)]);
    return data;
  }

  private async requireSession(name: string, id: string): Promise<void> {
    const info = await unlessMissing(() => this.driver.stat(pathFor({ kind: 'uploadStartedAt', name, id }), FILE_ONLY));
    if (!info) throw new UploadUnknownError(id);
  }

  private async dataSize(name: string, id: string): Promise<number> {
    return (await this.dataInfo(name, id))?.size ?? 0;
  }

  private async dataInfo(name: string, id: string): Promise<FileInfo | undefined> {
    return unlessMissing(() => this.driver.stat(pathFor({ kind: 'uploadData', name, id }), FILE_ONLY));
  }

  private key(name: string, id: string): string {
    return `${name}\u0000${id}`;
  }
}
