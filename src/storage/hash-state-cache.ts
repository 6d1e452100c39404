// In-process running hashes of uploads, the fast path that spares re-reading an upload at commit.
// Losing an entry (restart, eviction, another replica took the upload) only costs a re-read.
import type { RunningHash } from './running-hash.js';

export interface HashState {
  readonly hash: RunningHash;
  /** Number of bytes the hash has consumed; valid only if it equals the stored size. */
  readonly offset: number;
}

export class HashStateCache {
  private readonly entries = new Map<string, HashState>();

  constructor(private readonly maxEntries = 4096) {}

  /** Removes and returns the state: a caller owns it while it feeds bytes. */
  take(key: string): HashState | undefined {
    const state = this.entries.get(key);
    this.entries.delete(key);
    return state;
  }

  put(key: string, state: HashState): void {
    this.delete(key);
    this.entries.set(key, state);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.get(key)?.hash.dispose();
    this.entries.delete(key);
  }
}
