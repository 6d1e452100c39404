// Serialises work per key inside this process (two PATCHes to one upload must not interleave).
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** `work` learns whether it had to wait for another holder of the key (`contended`). */
  async run<T>(key: string, work: (contended: boolean) => Promise<T>): Promise<T> {
    const contended = this.tails.has(key);
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work(contended);
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
