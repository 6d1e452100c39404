// One timed phase of the bench: wall time of `fn`, and the registry's peak RSS (sampled every
// 50 ms) and CPU seconds over it.
import { RssSampler, type PhaseStats } from './proc-stats.js';

export interface Phase<T> {
  result: T;
  seconds: number;
  stats: PhaseStats;
}

/** The median of some numbers (the mean of the middle two for an even count; NaN for none). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export async function timed<T>(pid: number, fn: () => Promise<T>): Promise<Phase<T>> {
  const sampler = new RssSampler(pid, 50);
  const start = performance.now();
  try {
    const result = await fn();
    const seconds = (performance.now() - start) / 1000;
    return { result, seconds, stats: sampler.stop() };
  } catch (err) {
    sampler.stop();
    throw err;
  }
}
