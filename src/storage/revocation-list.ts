// Ids that stop being accepted before they expire (the web page's sessions at logout), kept in
// storage so every replica on it honours them: one small object per id under
// regate/revoked/<list>/, named by when it may go. Readers keep the set they listed for at most
// FRESH_MS, so a revocation takes effect everywhere within about a second; entries past their time
// are deleted by whoever lists them.
import type { StorageDriver } from './driver.js';
import { PathNotFoundError } from './driver.js';
import { revocationPath, revocationsRoot } from './paths.js';

const FRESH_MS = 1000;

export class RevocationList {
  private known: { ids: Set<string>; at: number } | undefined;
  private listing: Promise<Set<string>> | undefined;

  constructor(
    private readonly driver: StorageDriver,
    private readonly list: string,
  ) {}

  /** Stops accepting `id` until `untilMs` (epoch ms), on every replica. */
  async revoke(id: string, untilMs: number): Promise<void> {
    await this.driver.putContent(revocationPath(this.list, `${untilMs}-${id}`), Buffer.alloc(0));
    this.known?.ids.add(id);
  }

  async isRevoked(id: string): Promise<boolean> {
    const ids = this.known && Date.now() - this.known.at < FRESH_MS ? this.known.ids : await this.refresh();
    return ids.has(id);
  }

  private refresh(): Promise<Set<string>> {
    this.listing ??= this.read().finally(() => {
      this.listing = undefined;
    });
    return this.listing;
  }

  private async read(): Promise<Set<string>> {
    const at = Date.now();
    let entries: string[];
    try {
      entries = await this.driver.list(revocationsRoot(this.list));
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
      entries = [];
    }
    const ids = new Set<string>();
    for (const path of entries) {
      const m = /\/(\d+)-([^/]+)$/.exec(path);
      if (!m) continue;
      if (Number(m[1]) > at) ids.add(m[2]!);
      else void this.driver.delete(path).catch(() => undefined); // past its time: nobody needs it
    }
    this.known = { ids, at };
    return ids;
  }
}
