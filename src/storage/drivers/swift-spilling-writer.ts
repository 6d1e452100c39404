// Bytes of unknown length where nothing is stored yet (docker's PATCH: chunked, no Content-Length):
// a plain object by one chunked PUT while they fit in one segment, so the common small layer costs
// what a layer of known length does (one PUT now; one GET, one COPY later). A body that grows past
// the segment size finishes the plain object at exactly that size and goes on as an append, which
// makes it the first segment of a set (a server-side copy) and writes the rest as segments: from
// then on that segment is readable before close (WriterOptions.prefixMayShow, which only an upload
// session asks for: what it holds is a prefix of its body, resumed from there).
import { WriteConflictError, type FileWriter } from '../driver.js';
import { CallOrder } from './call-order.js';
import type { SwiftPlainWriter } from './swift-plain-writer.js';

export class SwiftSpillingWriter implements FileWriter {
  #rest: FileWriter | undefined;
  /** Why the switch to segments failed: every later write gets it. */
  #failed: unknown;
  /** Writes run one after another in call order, even when the caller does not await each. */
  readonly #writes = new CallOrder();

  constructor(
    private readonly plain: SwiftPlainWriter,
    private readonly segmentSize: number,
    /** Opens an append to what the plain writer stored (called once, after it closed). */
    private readonly openRest: () => Promise<FileWriter>,
    private readonly driverName: string,
    private readonly path: string,
  ) {}

  get size(): number {
    return this.#rest?.size ?? this.plain.size;
  }

  get version(): string | undefined {
    return this.#rest ? this.#rest.version : this.plain.version;
  }

  write(chunk: Buffer): Promise<void> {
    return this.#writes.run(() => this.#write(chunk));
  }

  async #write(chunk: Buffer): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#rest) return this.#rest.write(chunk);
    const room = this.segmentSize - this.plain.size;
    if (chunk.length <= room) return this.plain.write(chunk);
    try {
      if (room > 0) await this.plain.write(chunk.subarray(0, room));
      await this.plain.close();
      const rest = await this.openRest();
      // The append must continue exactly what this writer stored: another process writing the same
      // object at the same moment (a second PATCH of the session, whose create won the race) makes
      // this writer stop, its bytes not appended to theirs. (The append has made their object a
      // set of one segment: the same bytes.)
      if (rest.size !== this.plain.size || rest.version !== this.plain.version) {
        await rest.close().catch(() => undefined);
        throw new WriteConflictError(this.driverName, this.path, `${this.path} was rewritten by another writer`);
      }
      this.#rest = rest;
    } catch (err) {
      // What the plain object holds stays (closing keeps it); nothing more goes in.
      this.#failed = err;
      throw err;
    }
    await this.#rest.write(chunk.subarray(room));
  }

  async close(): Promise<void> {
    await this.#writes.settled;
    await (this.#rest ?? this.plain).close();
  }

  async commit(): Promise<void> {
    await this.#writes.settled;
    await (this.#rest ?? this.plain).commit();
  }

  async cancel(): Promise<void> {
    await this.#writes.settled;
    await (this.#rest ?? this.plain).cancel();
  }
}
