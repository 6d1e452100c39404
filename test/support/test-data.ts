// Test data shared by the API and gateway tests: digests, reproducible bytes, chunked bodies.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A deterministic pseudo-random buffer, so failures reproduce. */
export function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A body with no Content-Length (sent chunked), delivered in pieces with an optional pause between them. */
export function chunked(data: Buffer, pieceSize = 16 * 1024, pauseMs = 0): Readable {
  async function* pieces(): AsyncGenerator<Buffer> {
    for (let i = 0; i < data.length; i += pieceSize) {
      if (pauseMs > 0 && i > 0) await new Promise((r) => setTimeout(r, pauseMs));
      yield data.subarray(i, i + pieceSize);
    }
  }
  return Readable.from(pieces(), { objectMode: false });
}
