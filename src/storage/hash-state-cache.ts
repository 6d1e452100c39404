// In-process running hashes of uploads, the fast path that spares re-reading an upload at commit.
// Losing an entry (restart, eviction, another replica took the upload) only costs a re-read.
import { LRUCache } from 'lru-cache';
import type { RunningHash } from './running-hash.js';

export interface HashState {
  readonly hash: RunningHash;
  /** Number of bytes the hash has consumed; valid only if it equals the stored size. */
  readonly offset: number;
  /**
   * The version of the content the hash has consumed (FileWriter.version after the write): valid
   * only while the stored content still has it. Another process may have written the same upload.
   */
  readonly version?: string;
}

export class HashStateCache {
  // Evicted or replaced states release their hash (in the worker thread) through dispose.
  private readonly entries: LRUCache<string, HashState>;
  /** The state being handed to a caller by take(): removed, but not disposed. */
  private taking: HashState | undefined;

  constructor(maxEntries = 4096) {
    this.entries = new LRUCache<string, HashState>({
      max: maxEntries,
      dispose: (state) => {
        if (state !== this.taking) state.hash.dispose();
      },
    });
  }

  /** Removes and returns the state: a caller owns it while it feeds bytes (so it is not disposed). */
  take(key: string): HashState | undefined {
    const state = this.entries.get(key);
    if (state === undefined) return undefined;
    this.taking = state;
    try {
      this.entries.delete(key);
    } finally {
      this.taking = undefined;
    }
    return state;
  }

  /** What the state has consumed, leaving it in place. */
  peek(key: string): Pick<HashState, 'offset' | 'version'> | undefined {
    const state = this.entries.peek(key);
    return state && { offset: state.offset, version: state.version };
  }

  put(key: string, state: HashState): void {
    this.entries.set(key, state);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
