// Memory and CPU of a process from /proc: a poller samples VmRSS (~every 50 ms) to find a phase's
// peak, VmHWM is the kernel's own lifetime peak (a cross-check), and utime+stime give CPU seconds.
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

function statusField(pid: number, field: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

export function rssBytes(pid: number): number | undefined {
  return statusField(pid, 'VmRSS');
}

export function hwmBytes(pid: number): number | undefined {
  return statusField(pid, 'VmHWM');
}

/** CPU seconds (user + system) the process has used so far, including waited-for children. */
export function cpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which is in parentheses and may contain spaces.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / CLOCK_TICKS;
}

export interface PhaseStats {
  peakRssBytes: number;
  samples: number;
  cpuSeconds: number;
}

/** Samples a process's RSS until stopped; `stop()` returns the phase's peak and CPU time. */
export class RssSampler {
  #peak = 0;
  #samples = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #cpuStart: number;

  constructor(
    private readonly pid: number,
    intervalMs = 50,
  ) {
    this.#cpuStart = cpuSeconds(pid) ?? 0;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const rss = rssBytes(this.pid);
    if (rss === undefined) return;
    this.#samples += 1;
    if (rss > this.#peak) this.#peak = rss;
  }

  stop(): PhaseStats {
    clearInterval(this.#timer);
    this.#sample();
    const cpu = (cpuSeconds(this.pid) ?? this.#cpuStart) - this.#cpuStart;
    return { peakRssBytes: this.#peak, samples: this.#samples, cpuSeconds: cpu };
  }
}

/** CPU seconds used so far by every live process whose command line matches `pattern`. */
export function cpuOfMatching(pattern: RegExp): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (pattern.test(cmdline)) total += cpuSeconds(Number(entry)) ?? 0;
  }
  return total;
}

/** CPU seconds of this process's children that have been waited for (e.g. finished curls). */
export function waitedChildrenCpuSeconds(): number {
  const rest = readFileSync('/proc/self/stat', 'utf8');
  const fields = rest.slice(rest.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}
