// A write that fits in one segment, stored as one plain object by one streamed PUT: no manifest
// before it, none after it, and later reads and moves are of a plain object (one GET, one COPY).
// Swift keeps an object only once its whole announced length arrived, so a writer that dies or a
// body that stops short leaves nothing behind, which is what the manifest written ahead of a
// segmented set exists to guarantee. Without a known length the PUT is chunked: a writer that dies
// leaves nothing either (the PUT never ends), and one closed early keeps what it was given, as a
// segmented writer keeps its whole batches. Created only where nothing is stored yet; `If-None-Match: *`
// makes a second writer starting the same object at the same moment a WriteConflictError
// (before any byte is sent: the PUT waits for 100 Continue).
import type { SwiftClient } from '../../swift/client.js';
import { SwiftHttpError } from '../../swift/errors.js';
import { StreamingPut } from '../../swift/streaming-put.js';
import { CallOrder } from './call-order.js';
import { DriverError, WriteConflictError, type FileWriter } from '../driver.js';
import { plainVersion } from './swift-segments.js';

export class SwiftPlainWriter implements FileWriter {
  #size = 0;
  #version: string | undefined;
  #failed: Error | undefined;
  #done = false;
  /** Writes run one after another in call order, even when the caller does not await each. */
  readonly #writes = new CallOrder();

  private constructor(
    private readonly client: SwiftClient,
    private readonly put: StreamingPut,
    private readonly object: string,
    private readonly driverName: string,
    private readonly path: string,
    private readonly length: number | undefined,
  ) {}

  /** Opens the PUT of exactly `length` bytes (undefined: chunked) at `object`, which must not exist yet. */
  static async open(client: SwiftClient, driverName: string, object: string, path: string, length: number | undefined): Promise<SwiftPlainWriter> {
    try {
      const put = await StreamingPut.open(client, object, { 'if-none-match': '*' }, length);
      return new SwiftPlainWriter(client, put, object, driverName, path, length);
    } catch (err) {
      if (err instanceof SwiftHttpError && err.status === 412) throw new WriteConflictError(driverName, path);
      throw err;
    }
  }

  get size(): number {
    return this.#size;
  }

  get version(): string | undefined {
    return this.#version;
  }

  write(chunk: Buffer): Promise<void> {
    return this.#writes.run(() => this.#write(chunk));
  }

  async #write(chunk: Buffer): Promise<void> {
    if (this.#failed) throw this.#failed;
    if (this.length !== undefined && this.#size + chunk.length > this.length) this.#fail(new Error(`more than the announced ${this.length} bytes`));
    try {
      if (!this.#failed) await this.put.write(chunk);
    } catch (err) {
      this.#fail(err);
    }
    if (this.#failed) throw this.#failed;
    this.#size += chunk.length;
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.put.abort();
    const message = err instanceof Error ? err.message : String(err);
    this.#failed = err instanceof DriverError ? err : new DriverError(this.driverName, `writing ${this.path}: ${message}`, true, { cause: err });
  }

  async #end(): Promise<void> {
    await this.#writes.settled;
    if (this.#done) return;
    this.#done = true;
    if (!this.#failed && this.length !== undefined && this.#size < this.length) {
      // The body stopped short: Swift drops the incomplete object, so nothing was stored.
      this.put.abort();
      this.#size = 0;
      return;
    }
    if (this.#failed) {
      this.#size = 0;
      throw this.#failed;
    }
    try {
      const etag = await this.put.finish();
      this.#version = etag === undefined ? undefined : plainVersion(etag);
    } catch (err) {
      this.#size = 0;
      if (err instanceof SwiftHttpError && err.status === 412) throw new WriteConflictError(this.driverName, this.path);
      this.#fail(err);
      throw this.#failed;
    }
  }

  close(): Promise<void> {
    return this.#end();
  }

  commit(): Promise<void> {
    return this.#end();
  }

  async cancel(): Promise<void> {
    await this.#writes.settled;
    this.#size = 0;
    if (this.#done) {
      if (this.#version !== undefined) await this.client.delete(this.object);
      return;
    }
    this.#done = true;
    this.put.abort();
  }
}
