// How regate's process is started, wherever it is started from (the bin shebang, `npm start`, the
// tests and benchmarks that spawn it). Keep in step with the shebang of main.ts and the `start`
// script of package.json (test/unit/runtime-flags.test.ts checks both).
//
// - A 1 MiB young generation makes V8 collect the 64 KiB socket buffers of an upload soon after
//   use instead of letting tens of megabytes of them pile up: memory stays flat and, measured,
//   pushes get faster.
// - --expose-gc lets uploads ask for a young-generation collection every few megabytes received
//   (storage/garbage-pacer.ts): the 64 KiB body buffers are freed soon after use, so memory stays
//   bounded under many concurrent pushes.
// - Two malloc arenas instead of one per thread (hash worker, libuv pool): measured ~10 MiB less
//   peak memory under 8 concurrent transfers, at no cost in throughput.
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--expose-gc'];
export const NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** The prefix a shell or `env -S` needs: `MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --expose-gc`. */
export function commandPrefix(): string {
  const env = Object.entries(NODE_ENV).map(([k, v]) => `${k}=${v}`);
  return [...env, 'node', ...NODE_FLAGS].join(' ');
}
