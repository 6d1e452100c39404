// Reading an object out of Swift into a sink with backpressure. A large object is read by its own
// segment list, each segment fetched directly (plain objects: Swift does not rate-limit them, as it
// does GETs through a DLO/SLO manifest), with the next segments' requests already sent so their
// first bytes wait in socket buffers, not in memory. A read cut mid-stream resumes from where it
// stopped with a Range request (bounded attempts), so a dropped connection costs a retry, not a pull.
import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import { backoff, sleep, type SwiftClient } from '../../swift/client.js';
import { isTransientError, SwiftHttpError } from '../../swift/errors.js';
import { writeToSink } from '../sink-write.js';
import type { Segment } from './swift-segments.js';

/** Segment requests sent ahead of the one being copied. */
const READ_AHEAD = 2;

interface Piece {
  readonly name: string;
  /** Range inside the object `name`, end exclusive. */
  readonly start: number;
  readonly end: number;
}

/** The pieces of segments covering [start, end) of the whole object. */
export function piecesFor(segments: readonly Segment[], start: number, end: number): Piece[] {
  const pieces: Piece[] = [];
  for (const s of segments) {
    const segEnd = s.start + s.size;
    if (segEnd <= start || s.start >= end || s.size === 0) continue;
    pieces.push({ name: s.name, start: Math.max(start, s.start) - s.start, end: Math.min(end, segEnd) - s.start });
  }
  return pieces;
}

async function openPiece(client: SwiftClient, piece: Piece, from: number, etag?: string): Promise<IncomingMessage> {
  const res = await client.get(piece.name, { start: from, end: piece.end - 1 });
  if (!res) throw new SwiftHttpError(404, 'GET', piece.name, 'a segment of a large object is missing');
  if (etag !== undefined && res.headers.etag?.replace(/"/g, '') !== etag) {
    res.destroy();
    throw new SwiftHttpError(412, 'GET', piece.name, 'the object holds other content than the one asked for');
  }
  if (res.statusCode !== 206 && res.statusCode !== 200) {
    res.resume();
    throw new SwiftHttpError(res.statusCode ?? 0, 'GET', piece.name);
  }
  if (res.statusCode === 200 && from !== 0) {
    res.destroy();
    throw new SwiftHttpError(200, 'GET', piece.name, 'the range was ignored');
  }
  return res;
}

/**
 * The body's chunks, failing with ETIMEDOUT (transient: the piece resumes by Range) when Swift
 * sends nothing for `idleMs` while we wait for it. Only the waits for Swift count: a sink that
 * is slow to drain (a slow client) leaves the socket idle on purpose, and so do the requests sent
 * ahead, whose bytes wait in socket buffers until their turn.
 */
async function* idleGuarded(res: IncomingMessage, idleMs: number, name: string): AsyncGenerator<Buffer> {
  const chunks = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  // The wait in progress, failed by the timer. One promise per wait: racing every chunk against
  // one long-lived promise would keep every chunk read alive until the piece ends.
  let failWait: ((err: Error) => void) | undefined;
  const timer = setTimeout(function check() {
    // Fired while the caller was busy with its sink: not a stall; the next wait re-arms it.
    if (!failWait) return void timer.refresh();
    const err = Object.assign(new Error(`Swift sent nothing of ${name} for ${idleMs} ms`), { code: 'ETIMEDOUT' });
    res.destroy(err);
    failWait(err);
  }, idleMs);
  timer.unref();
  try {
    for (;;) {
      timer.refresh();
      const next = await new Promise<IteratorResult<Buffer>>((resolve, reject) => {
        failWait = reject;
        chunks.next().then(resolve, reject);
      });
      failWait = undefined;
      if (next.done) return;
      yield next.value;
    }
  } finally {
    clearTimeout(timer);
  }
}

async function copyPiece(client: SwiftClient, piece: Piece, first: Promise<IncomingMessage>, sink: Writable, etag?: string): Promise<void> {
  let position = piece.start;
  let pending: Promise<IncomingMessage> | undefined = first;
  for (let attempt = 0; ; attempt++) {
    let res: IncomingMessage | undefined;
    try {
      res = await (pending ?? openPiece(client, piece, position, etag));
      pending = undefined;
      for await (const chunk of idleGuarded(res, client.idleTimeoutMs, piece.name)) {
        const buf = chunk;
        const take = Math.min(buf.length, piece.end - position);
        if (take <= 0) break;
        await writeToSink(sink, take === buf.length ? buf : buf.subarray(0, take));
        position += take;
      }
      if (position >= piece.end) return;
      throw Object.assign(new Error(`segment ${piece.name} ended early`), { code: 'ECONNRESET' });
    } catch (err) {
      pending = undefined;
      res?.destroy();
      if (sink.destroyed) throw err;
      if (!isTransientError(err) || attempt + 1 >= client.retry.attempts) throw err;
      await sleep(backoff(attempt, client.retry));
    }
  }
}

/** Copies [start, end) of a segmented object into sink, in order. */
export async function pipeSegments(client: SwiftClient, segments: readonly Segment[], start: number, end: number, sink: Writable): Promise<void> {
  const pieces = piecesFor(segments, start, end);
  const opened: Array<Promise<IncomingMessage> | undefined> = [];
  const open = (i: number): void => {
    if (i < pieces.length && opened[i] === undefined) {
      const p = openPiece(client, pieces[i]!, pieces[i]!.start);
      p.catch(() => undefined); // awaited (and retried) when its turn comes
      opened[i] = p;
    }
  };
  try {
    for (let i = 0; i < pieces.length; i++) {
      for (let k = 0; k <= READ_AHEAD; k++) open(i + k);
      await copyPiece(client, pieces[i]!, opened[i]!, sink);
      opened[i] = Promise.resolve(undefined as never);
    }
  } finally {
    // Requests sent ahead and not read: give their sockets back.
    for (const p of opened) p?.then((res) => res?.destroy(), () => undefined);
  }
}

/** Copies a whole plain object of `size` bytes into sink, starting from a GET already answered. */
export async function pipeAnswered(client: SwiftClient, name: string, answered: IncomingMessage, size: number, sink: Writable): Promise<void> {
  if (size === 0) {
    answered.resume();
    return;
  }
  const etag = answered.headers.etag?.replace(/"/g, '');
  // A read cut midway resumes by Range on condition of the same ETag.
  await copyPiece(client, { name, start: 0, end: size }, Promise.resolve(answered), sink, etag);
}

/** Copies [start, end) of a plain object into sink; with `etag`, only if the object still has it. */
export async function pipeObject(client: SwiftClient, name: string, start: number, end: number, sink: Writable, etag?: string): Promise<void> {
  if (end <= start) return;
  await copyPiece(client, { name, start, end }, openPiece(client, { name, start, end }, start, etag), sink, etag);
}
