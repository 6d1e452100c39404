// Streaming writes into Swift: bytes go out as segments while they arrive (at most two segment
// PUTs unfinished at once, nothing buffered beyond the caller's chunk), and close/commit writes the
// DLO manifest that makes them readable, with the segment sizes in its metadata. Appending
// continues the same segment numbering; there the first new segment is claimed with
// `If-None-Match: *`: a second writer appending to the same object at the same time finds the
// number taken and fails with WriteConflictError instead of interleaving its bytes. A writer that
// starts a set of its own (a fresh random prefix) has nobody to race and claims nothing.
import type { SwiftClient } from '../../swift/client.js';
import { SwiftHttpError } from '../../swift/errors.js';
import { StreamingPut } from '../../swift/streaming-put.js';
import { CallOrder } from './call-order.js';
import { DriverError, WriteConflictError, type FileWriter } from '../driver.js';
import { encodeSizes, plainVersion, segmentName, setVersion } from './swift-segments.js';

const MAX_UNFINISHED_SEGMENTS = 2;

export interface WriterStart {
  /** The object name of the manifest. */
  object: string;
  /** The driver path, for errors. */
  path: string;
  segmentPrefix: string;
  /** Index of the first existing segment (1, or 0 for a converted plain object). */
  first: number;
  /** Sizes of the segments already there (append). */
  existing: number[];
  /**
   * The set is this writer's own: a fresh prefix whose manifest lists no segment until this writer
   * closes, so no other writer can append to it and its numbers need no claim.
   */
  ownSet: boolean;
  chunkSize: number;
  /**
   * Bytes this writer expects: its segments then go out with their Content-Length rather than
   * chunked (cheaper for Swift to receive). A segment the body stops short of is not stored.
   */
  expectedBytes?: number;
  /** The version of the content this writer continues (undefined: none). */
  baseVersion?: string;
  /**
   * For a writer extending a set it does not own alone: whether the object still owns that set,
   * asked right before the manifest is written. When not, no manifest is written and the segments
   * this writer added are deleted (WriteConflictError).
   */
  stillOwned?: () => Promise<boolean>;
}

/** The ETag of no bytes: what an empty object's version is made of. */
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

export class SwiftWriter implements FileWriter {
  readonly #sizes: number[];
  #current: StreamingPut | undefined;
  #currentIndex = 0;
  /** The length the current segment was opened with; undefined when chunked. */
  #currentLength: number | undefined;
  #unfinished: Array<{ index: number; done: Promise<void> }> = [];
  #failed: Error | undefined;
  #claimed: boolean;
  /** The number claimed with an empty placeholder, until real bytes replace it. */
  #placeholder: number | undefined;
  /** Another writer took our first segment number: we own nothing and must not write a manifest. */
  #conflict: WriteConflictError | undefined;
  #size: number;
  readonly #initialSize: number;
  #version: string | undefined;
  /** Segment numbers this writer created (cancel and failure cleanup). */
  readonly #created = new Set<number>();
  /** Indexes whose PUT completed. */
  readonly #stored = new Set<number>();

  constructor(
    private readonly client: SwiftClient,
    private readonly driverName: string,
    private readonly start: WriterStart,
  ) {
    this.#sizes = [...start.existing];
    this.#size = start.existing.reduce((a, b) => a + b, 0);
    this.#initialSize = this.#size;
    this.#claimed = start.ownSet;
    this.#version = start.baseVersion;
  }

  get size(): number {
    return this.#size;
  }

  get version(): string | undefined {
    return this.#version;
  }

  /** Writes run one after another in call order, even when the caller does not await each. */
  readonly #writes = new CallOrder();

  write(chunk: Buffer): Promise<void> {
    return this.#writes.run(() => this.#write(chunk));
  }

  async #write(chunk: Buffer): Promise<void> {
    if (this.#failed) throw this.#failed;
    let offset = 0;
    while (offset < chunk.length) {
      if (!this.#current) await this.#openSegment();
      const current = this.#current!;
      const room = (this.#currentLength ?? this.start.chunkSize) - current.bytes;
      const part = offset === 0 && chunk.length <= room ? chunk : chunk.subarray(offset, offset + Math.min(room, chunk.length - offset));
      try {
        await current.write(part);
      } catch (err) {
        this.#fail(err);
        throw this.#failed;
      }
      offset += part.length;
      this.#size += part.length;
      if (current.bytes >= (this.#currentLength ?? this.start.chunkSize)) this.#finishCurrent();
    }
  }

  async #openSegment(): Promise<void> {
    // Bounded parallelism: the oldest segment must be stored before yet another one starts.
    while (this.#unfinished.length >= MAX_UNFINISHED_SEGMENTS) {
      await this.#unfinished[0]!.done.catch(() => undefined);
      if (this.#failed) throw this.#failed;
    }
    const index = this.start.first + this.#sizes.length;
    const name = segmentName(this.start.segmentPrefix, index);
    try {
      // The first new number is claimed with an empty placeholder that must not exist yet: it is
      // stored at once, unlike a streamed body, so a second writer appending to the same object
      // at the same time finds the number taken and gets WriteConflictError.
      if (!this.#claimed) {
        await this.client.put(name, Buffer.alloc(0), { 'if-none-match': '*' });
        this.#claimed = true;
        this.#placeholder = index;
      }
      const expected = this.start.expectedBytes;
      const left = expected === undefined ? 0 : expected - (this.#size - this.#initialSize);
      this.#currentLength = left > 0 ? Math.min(this.start.chunkSize, left) : undefined;
      this.#current = await StreamingPut.open(this.client, name, {}, this.#currentLength);
    } catch (err) {
      if (err instanceof SwiftHttpError && err.status === 412 && !this.#claimed) {
        this.#conflict = new WriteConflictError(this.driverName, this.start.path);
        this.#failed = this.#conflict;
        throw this.#conflict;
      }
      await this.#dropPlaceholder(index);
      this.#fail(err);
      throw this.#failed;
    }
    this.#currentIndex = index;
    this.#created.add(index);
    this.#sizes.push(0);
  }

  #finishCurrent(): void {
    const current = this.#current!;
    const index = this.#currentIndex;
    this.#current = undefined;
    this.#sizes[index - this.start.first] = current.bytes;
    const firstOfWriter = index === this.start.first + this.start.existing.length;
    if (this.#placeholder === index) this.#placeholder = undefined;
    const done = current.finish().then(
      async (etag) => {
        // Two claims that raced within milliseconds: whoever's bytes are not in the segment lost.
        if (firstOfWriter && etag && !this.start.ownSet) {
          const stored = await this.client.head(segmentName(this.start.segmentPrefix, index), false);
          if (stored?.etag !== undefined && stored.etag !== etag) {
            this.#conflict = new WriteConflictError(this.driverName, this.start.path);
            this.#failed = this.#conflict;
            return;
          }
        }
        this.#stored.add(index);
      },
      (err) => this.#fail(err),
    );
    const entry = { index, done };
    this.#unfinished.push(entry);
    void done.finally(() => {
      this.#unfinished = this.#unfinished.filter((e) => e !== entry);
    });
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    const message = err instanceof Error ? err.message : String(err);
    this.#failed = err instanceof DriverError ? err : new DriverError(this.driverName, `writing ${this.start.path}: ${message}`, true, { cause: err });
  }

  /** A claimed number that never got bytes must not stay taken: a retry would find it claimed. */
  async #dropPlaceholder(index: number): Promise<void> {
    if (this.#placeholder !== index) return;
    this.#placeholder = undefined;
    await this.client.delete(segmentName(this.start.segmentPrefix, index)).catch(() => undefined);
  }

  async #drain(): Promise<void> {
    if (this.#current) {
      const short = this.#currentLength !== undefined && this.#current.bytes < this.#currentLength;
      if (this.#failed || this.#current.bytes === 0 || short) {
        // An opened segment with nothing in it, or less than its announced length (the body
        // stopped early): dropped, so the object ends with its last whole segment.
        this.#current.abort();
        await this.#dropPlaceholder(this.#currentIndex);
        this.#created.delete(this.#currentIndex);
        this.#sizes.pop();
        if (short) this.#size -= this.#current.bytes;
        this.#current = undefined;
      } else {
        this.#finishCurrent();
      }
    }
    while (this.#unfinished.length > 0) await this.#unfinished[0]!.done.catch(() => undefined);
  }

  /** Segments from the start that are all stored: what a manifest may point at. */
  #goodSizes(): number[] {
    const existing = this.start.existing.length;
    const good = this.#sizes.slice(0, existing);
    for (let i = existing; i < this.#sizes.length; i++) {
      if (!this.#stored.has(this.start.first + i)) break;
      good.push(this.#sizes[i]!);
    }
    return good;
  }

  async #writeManifest(sizes: number[]): Promise<void> {
    if (sizes.length === 0) {
      // Nothing at all: an empty plain object, as an empty file.
      await this.client.put(this.start.object, Buffer.alloc(0));
      this.#version = plainVersion(EMPTY_MD5);
      return;
    }
    const meta = encodeSizes(this.start.first, sizes) ?? {};
    await this.client.put(this.start.object, Buffer.alloc(0), {
      'x-object-manifest': `${this.client.container}/${this.start.segmentPrefix}`,
      ...meta,
    });
    this.#version = setVersion(this.start.segmentPrefix, this.start.first, sizes);
  }

  async #end(): Promise<void> {
    if (this.#conflict) throw this.#conflict;
    await this.#drain();
    if (this.#conflict) throw this.#conflict;
    // A failed writer whose check fails too reports its own failure (the backend is likely down).
    const owned = this.start.stillOwned ? await this.start.stillOwned().catch((err: unknown) => {
      throw this.#failed ?? err;
    }) : true;
    if (!owned) {
      this.#conflict = new WriteConflictError(this.driverName, this.start.path, `${this.start.path} was moved or replaced while being appended to`);
      await Promise.allSettled([...this.#created].map((i) => this.client.delete(segmentName(this.start.segmentPrefix, i))));
      throw this.#conflict;
    }
    const good = this.#goodSizes();
    if (this.#failed) {
      // Keep what was stored whole, so the upload can resume from there; drop strays past a gap.
      const keep = this.start.first + good.length;
      await Promise.allSettled([...this.#created].filter((i) => i >= keep).map((i) => this.client.delete(segmentName(this.start.segmentPrefix, i))));
      this.#size = good.reduce((a, b) => a + b, 0);
      await this.#writeManifest(good).catch(() => undefined);
      throw this.#failed;
    }
    await this.#writeManifest(good);
  }

  async close(): Promise<void> {
    await this.#writes.settled;
    return this.#end();
  }

  async commit(): Promise<void> {
    await this.#writes.settled;
    return this.#end();
  }

  async cancel(): Promise<void> {
    await this.#writes.settled;
    if (this.#conflict) return;
    this.#current?.abort();
    this.#current = undefined;
    while (this.#unfinished.length > 0) await this.#unfinished[0]!.done.catch(() => undefined);
    await this.client.delete(this.start.object);
    const all = this.#sizes.map((_, i) => this.start.first + i);
    await Promise.all(all.map((i) => this.client.delete(segmentName(this.start.segmentPrefix, i))));
  }
}
