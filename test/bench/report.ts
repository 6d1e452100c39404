// The results: one row per scenario × storage with both registries side by side, the issue's
// targets checked against them, a plain-text table for the terminal and the same data as JSON.
// Transfer rows (plain HTTP, and TLS + auth: `tls-*`) share one shape; the authenticated manifest
// HEAD load test (auth-head) has its own rows: requests/s and latency instead of MB/s.
import type { RegistryKind } from './registries.js';

export const MB = 1_000_000;
const MiB = 1024 * 1024;

export const TARGETS = {
  pushRatio: 3.0,
  pullRatio: 1.0,
  regateRssMiB: 128,
  /** Issue 3: authenticated manifest HEADs/s, regate ≥ 20× Distribution (both TLS + htpasswd cost 10). */
  authHeadRatio: 20,
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

export type Scenario =
  | 'push-single'
  | 'pull-single'
  | 'push-concurrent'
  | 'pull-concurrent'
  /** The same single-layer push/pull through TLS + Basic auth (issue 3; no ratio target set). */
  | 'tls-push-single'
  | 'tls-pull-single';

export const isTlsScenario = (scenario: Scenario): boolean => scenario.startsWith('tls-');

export interface Row {
  scenario: Scenario;
  label: string;
  storage: string;
  regate?: Measurement;
  distribution?: Measurement;
  ratio?: number;
  /** 0 = no target set for this row (the TLS + auth transfer rows). */
  ratioTarget: number;
  ratioMet?: boolean;
  regateRssMet?: boolean;
}

export interface ProcessPeak {
  registry: RegistryKind;
  /** Absent for the plain-HTTP transfer scenario; 'tls-transfer' for the TLS + auth one. */
  scenario?: string;
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
  row.ratioTarget = isTlsScenario(row.scenario) ? 0 : isPush ? TARGETS.pushRatio : TARGETS.pullRatio;
  if (row.regate && row.distribution && row.distribution.mbPerSec > 0) {
    row.ratio = row.regate.mbPerSec / row.distribution.mbPerSec;
    if (row.ratioTarget > 0) row.ratioMet = row.ratio >= row.ratioTarget;
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
      r.ratioTarget > 0 ? `≥ ${r.ratioTarget.toFixed(1)}× ${yesNo(r.ratioMet)}` : 'none set',
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

export function formatTargets(rows: Row[], authHead: AuthHeadRow[] = []): string {
  const summarise = <R extends { label: string; storage: string }>(
    name: string,
    selected: R[],
    met: (r: R) => boolean | undefined,
    value: (r: R) => string,
  ): string => {
    const known = selected.filter((r) => met(r) !== undefined);
    if (known.length === 0) return `  ${name}: not measured`;
    const missed = known.filter((r) => !met(r));
    const detail = known.map((r) => `${r.label} ${r.storage} ${value(r)}`).join('; ');
    return `  ${name}: ${missed.length === 0 ? 'MET' : `MISSED in ${missed.length}/${known.length}`} (${detail})`;
  };
  const plain = rows.filter((r) => !isTlsScenario(r.scenario));
  const tls = rows.filter((r) => isTlsScenario(r.scenario));
  const lines = [
    'targets from the issues (reported, not enforced):',
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
      plain,
      (r) => r.regateRssMet,
      (r) => `${num(r.regate?.peakRssMiB, 0)} MiB`,
    ),
  ];
  if (tls.length > 0) {
    lines.push(
      summarise(
        `regate peak RSS ≤ ${TARGETS.regateRssMiB} MiB through TLS + auth (issue 2's limit, applied here too)`,
        tls,
        (r) => r.regateRssMet,
        (r) => `${num(r.regate?.peakRssMiB, 0)} MiB`,
      ),
      `  push/pull through TLS + auth vs Distribution TLS + htpasswd: no ratio target set (issue 3); measured ${tls
        .map((r) => `${r.label} ${r.storage} ${num(r.ratio, 2)}×`)
        .join('; ')}`,
    );
  }
  if (authHead.length > 0) {
    lines.push(
      summarise(
        `authenticated manifest HEAD req/s ≥ ${TARGETS.authHeadRatio}× Distribution`,
        authHead.filter((r) => !r.crossCheck),
        (r) => r.ratioMet,
        (r) => `${num(r.ratio, 1)}× (${num(r.regate?.requestsPerSec, 0)} vs ${num(r.distribution?.requestsPerSec, 1)} req/s)`,
      ),
    );
    for (const r of authHead.filter((row) => row.crossCheck)) {
      lines.push(
        `  cross-check, ${r.label} with ${r.client}: ${num(r.ratio, 1)}× (${num(r.regate?.requestsPerSec, 0)} vs ${num(r.distribution?.requestsPerSec, 1)} req/s)`,
      );
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// auth-head: authenticated HEAD of a manifest under concurrent load (wrk)

export interface HeadMeasurement {
  /** What was measured: "TLS + htpasswd bcrypt-10" or "TLS, auth off". */
  setup: string;
  client: 'ab' | 'wrk';
  method: 'HEAD' | 'GET';
  connections: number;
  threads: number;
  seconds: number;
  requests: number;
  requestsPerSec: number;
  latencyMs: { mean: number; stdev: number; p50: number; p90: number; p99: number; p999?: number; max: number };
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
  /** ab: answers on kept-alive connections (should be all of them). */
  keepAliveRequests?: number;
  /** No socket errors, no timeouts, no non-2xx/3xx answers: the figures mean what they say. */
  valid: boolean;
  peakRssMiB: number;
  cpuSeconds: number;
  /** Registry CPU (user + sys) per answered request. */
  cpuMsPerRequest: number;
  /** Cores busy machine-wide during the run (/proc/stat): registry + load generator + anything else. */
  machineBusyCores: number;
  /** 1-minute load average just before the run (other work on the machine skews everything). */
  loadAvg1: number;
  /** Protocol and cipher negotiated. */
  tls: string;
  warmup: { seconds: number; requests: number; requestsPerSec: number; p99Ms: number; errors: number };
  /**
   * curl time of the first and the second authenticated `HEAD /v2/` on the fresh registry (a new
   * TLS connection each): the first pays one bcrypt compare, the second should hit regate's
   * verified-credentials cache (Distribution compares on every request).
   */
  authProbeMs?: { first: number; second: number };
  wrkCommand: string;
}

export interface AuthHeadRow {
  scenario: 'auth-head';
  label: string;
  storage: string;
  client: 'ab' | 'wrk';
  method: 'HEAD' | 'GET';
  /** The wrk GET row: a cross-check of the HEAD row with the other tool, not the issue's measurement. */
  crossCheck: boolean;
  regate?: HeadMeasurement;
  distribution?: HeadMeasurement;
  /** Reference: regate over TLS with auth off, to isolate what auth costs regate per request. */
  regateNoAuth?: HeadMeasurement;
  /** regate req/s ÷ Distribution req/s. */
  ratio?: number;
  /** Distribution p99 ÷ regate p99. */
  p99Ratio?: number;
  ratioTarget: number;
  ratioMet?: boolean;
}

export function finishAuthHeadRow(row: AuthHeadRow): AuthHeadRow {
  row.ratioTarget = TARGETS.authHeadRatio;
  const r = row.regate;
  const d = row.distribution;
  if (r && d && r.valid && d.valid && d.requestsPerSec > 0) {
    row.ratio = r.requestsPerSec / d.requestsPerSec;
    row.ratioMet = row.ratio >= row.ratioTarget;
    if (r.latencyMs.p99 > 0) row.p99Ratio = d.latencyMs.p99 / r.latencyMs.p99;
  }
  return row;
}

export function formatAuthHead(rows: AuthHeadRow[]): string {
  const out: string[] = [];
  for (const row of rows) {
    const entries: [string, HeadMeasurement | undefined][] = [
      ['regate', row.regate],
      ['Distribution 2.8.2', row.distribution],
      ['regate, auth off (reference)', row.regateNoAuth],
    ];
    const present = entries.filter((e): e is [string, HeadMeasurement] => e[1] !== undefined);
    const table = renderTable(
      ['registry', 'setup', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'requests', 'errors', 'CPU s', 'CPU ms/req', 'machine busy cores', 'peak RSS MiB', '1st/2nd auth ms'],
      present.map(([name, m]) => {
        const errors = m.errors.connect + m.errors.read + m.errors.write + m.errors.timeout + m.errors.status;
        return [
          name,
          m.setup,
          num(m.requestsPerSec, m.requestsPerSec >= 100 ? 0 : 1),
          num(m.latencyMs.p50, 2),
          num(m.latencyMs.p90, 2),
          num(m.latencyMs.p99, 2),
          num(m.latencyMs.max, 1),
          String(m.requests),
          m.valid ? String(errors) : `${errors} INVALID`,
          num(m.cpuSeconds, 2),
          num(m.cpuMsPerRequest, 3),
          `${num(m.machineBusyCores, 2)} (load ${num(m.loadAvg1, 2)})`,
          num(m.peakRssMiB, 1),
          m.authProbeMs ? `${m.authProbeMs.first.toFixed(1)} / ${m.authProbeMs.second.toFixed(1)}` : '-',
        ];
      }),
      [false, false, true, true, true, true, true, true, true, true, true, true, true, true],
    );
    const first = present[0]?.[1];
    out.push(
      `${row.label} (${row.storage}); ${first ? `${first.client}, ${first.connections} keep-alive connections${first.client === 'wrk' ? `, ${first.threads} thread(s)` : ''}, ${first.seconds.toFixed(1)} s measured after a ${first.warmup.seconds} s warm-up` : ''}:`,
      table,
      `  ratio regate/Distribution: ${row.ratio === undefined ? '-' : `${row.ratio.toFixed(1)}×`} req/s (target ≥ ${row.ratioTarget}× ${row.crossCheck ? `${yesNo(row.ratioMet)}, cross-check only` : yesNo(row.ratioMet)}); ` +
        `p99 ${row.p99Ratio === undefined ? '-' : `${row.p99Ratio.toFixed(1)}× lower`} on regate`,
      `  TLS negotiated: ${present.map(([name, m]) => `${name} ${m.tls}`).join('; ')}`,
    );
  }
  return out.join('\n');
}
