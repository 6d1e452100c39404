// Work that must run one piece after another in the order it was asked for, even when the caller
// does not await each (a writer's writes: the upload pipeline queues a batch before the last one
// is stored). A failed piece does not stop the ones after it; each caller sees its own outcome.
export class CallOrder {
  #tail: Promise<void> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work);
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Resolves once everything asked for so far has run. */
  get settled(): Promise<void> {
    return this.#tail;
  }
}
