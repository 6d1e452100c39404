// The results: one row per scenario × storage with both registries side by side, the issue's
// targets checked against them, a plain-text table for the terminal and the same data as JSON.
import type { RegistryKind } from './registries.js';

export const MB = 1_000_000;
const MiB = 1024 * 1024;

export const TARGETS = {
  pushRatio: 3.0,
  pullRatio: 1.0,
  regateRssMiB: 128,
} as const;

export interface Measurement {
  bytes: number;
  seconds: number;
  /** bytes / seconds / 1e6 */
  mbPerSec: number;
  peakRssMiB: number;
  rssSamples: number;
  cpuSeconds: number;
  /** With repeats: every run's MB/s (the fields above are the median run's, peak RSS the max). */
  runsMbPerSec?: number[];
}

export type Scenario = 'push-single' | 'pull-single' | 'push-concurrent' | 'pull-concurrent';

export interface Row {
  scenario: Scenario;
  label: string;
  storage: string;
  regate?: Measurement;
  distribution?: Measurement;
  ratio?: number;
  ratioTarget: number;
  ratioMet?: boolean;
  regateRssMet?: boolean;
}

export interface ProcessPeak {
  registry: RegistryKind;
  storage: string;
  run: number;
  /** VmRSS right after the registry answered, before any upload. */
  startRssMiB?: number;
  /** VmRSS after the untimed warm-up push and pull. */
  warmRssMiB?: number;
  maxSampledRssMiB: number;
  vmHwmMiB?: number;
}

export function finishRow(row: Row): Row {
  const isPush = row.scenario.startsWith('push');
  row.ratioTarget = isPush ? TARGETS.pushRatio : TARGETS.pullRatio;
  if (row.regate && row.distribution && row.distribution.mbPerSec > 0) {
    row.ratio = row.regate.mbPerSec / row.distribution.mbPerSec;
    row.ratioMet = row.ratio >= row.ratioTarget;
  }
  if (row.regate) row.regateRssMet = row.regate.peakRssMiB <= TARGETS.regateRssMiB;
  return row;
}

export function measurement(bytes: number, seconds: number, peakRssBytes: number, rssSamples: number, cpuSeconds: number): Measurement {
  return {
    bytes,
    seconds,
    mbPerSec: bytes / seconds / MB,
    peakRssMiB: peakRssBytes / MiB,
    rssSamples,
    cpuSeconds,
  };
}

const yesNo = (v: boolean | undefined): string => (v === undefined ? '-' : v ? 'met' : 'MISSED');
const num = (v: number | undefined, digits: number): string => (v === undefined ? '-' : v.toFixed(digits));

function renderTable(headers: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ');
  const sep = widths.map((w) => '-'.repeat(w)).join('-|-');
  return [line(headers), sep, ...rows.map(line)].join('\n');
}

export function formatResults(rows: Row[]): string {
  const main = renderTable(
    [
      'scenario',
      'storage',
      'regate MB/s',
      'Distribution MB/s',
      'ratio regate/Dist',
      'ratio target',
      'regate peak RSS MiB',
      'Distribution peak RSS MiB',
      `regate RSS ≤ ${TARGETS.regateRssMiB} MiB`,
    ],
    rows.map((r) => [
      r.label,
      r.storage,
      num(r.regate?.mbPerSec, 0),
      num(r.distribution?.mbPerSec, 0),
      r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}×`,
      `≥ ${r.ratioTarget.toFixed(1)}× ${yesNo(r.ratioMet)}`,
      num(r.regate?.peakRssMiB, 1),
      num(r.distribution?.peakRssMiB, 1),
      yesNo(r.regateRssMet),
    ]),
    [false, false, true, true, true, false, true, true, false],
  );
  const cpu = renderTable(
    ['scenario', 'storage', 'regate s', 'regate CPU s', 'Dist s', 'Dist CPU s'],
    rows.map((r) => [
      r.label,
      r.storage,
      num(r.regate?.seconds, 2),
      num(r.regate?.cpuSeconds, 2),
      num(r.distribution?.seconds, 2),
      num(r.distribution?.cpuSeconds, 2),
    ]),
    [false, false, true, true, true, true],
  );
  return `${main}\n\nwall time and registry CPU time (user+sys) per phase:\n${cpu}`;
}

export function formatTargets(rows: Row[]): string {
  const summarise = (name: string, selected: Row[], met: (r: Row) => boolean | undefined, value: (r: Row) => string): string => {
    const known = selected.filter((r) => met(r) !== undefined);
    if (known.length === 0) return `  ${name}: not measured`;
    const missed = known.filter((r) => !met(r));
    const detail = known.map((r) => `${r.label} ${r.storage} ${value(r)}`).join('; ');
    return `  ${name}: ${missed.length === 0 ? 'MET' : `MISSED in ${missed.length}/${known.length}`} (${detail})`;
  };
  return [
    'targets from the issue (reported, not enforced):',
    summarise(
      `push ≥ ${TARGETS.pushRatio}× Distribution`,
      rows.filter((r) => r.scenario.startsWith('push')),
      (r) => r.ratioMet,
      (r) => `${num(r.ratio, 2)}×`,
    ),
    summarise(
      `pull ≥ ${TARGETS.pullRatio.toFixed(1)}× Distribution`,
      rows.filter((r) => r.scenario.startsWith('pull')),
      (r) => r.ratioMet,
      (r) => `${num(r.ratio, 2)}×`,
    ),
    summarise(
      `regate peak RSS ≤ ${TARGETS.regateRssMiB} MiB`,
      rows,
      (r) => r.regateRssMet,
      (r) => `${num(r.regate?.peakRssMiB, 0)} MiB`,
    ),
  ].join('\n');
}
