// HTTP Range for blob reads: one range of bytes (RFC 9110). Several ranges are answered as the
// whole blob, which the RFC allows (overlapping ones are merged first); a range that cannot be
// satisfied is 416. Parsing is range-parser's, as in Express.
import rangeParser from 'range-parser';

export type RangeResult = { kind: 'whole' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'whole' };
  const trimmed = header.trim();
  const equals = trimmed.indexOf('=');
  // RFC 9110 §14.2: a range unit the server does not know is ignored.
  if (equals < 0 || trimmed.slice(0, equals).trim().toLowerCase() !== 'bytes') return { kind: 'whole' };
  // A suffix longer than the blob asks for all of it (RFC 9110 §14.1.3); range-parser would call
  // it unsatisfiable, so it is clamped to the size first.
  const spec = trimmed.slice(equals + 1).replace(/^\s*-\s*(\d+)\s*$/, (_m, n: string) => `-${Math.min(Number(n), size)}`);
  const parsed = rangeParser(size, `bytes=${spec}`, { combine: true });
  if (parsed === -1 || parsed === -2) return { kind: 'unsatisfiable' };
  if (parsed.length !== 1) return { kind: 'whole' };
  const only = parsed[0]!;
  return { kind: 'partial', start: only.start, end: only.end };
}

/** Parses an upload's `Content-Range: <start>-<end>` (Docker's form, with an optional `bytes ` prefix). */
export function parseContentRange(header: string | undefined): { start: number; end: number } | undefined | 'invalid' {
  if (header === undefined) return undefined;
  const m = /^(?:bytes\s+)?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) return 'invalid';
  const start = Number(m[1]);
  const end = Number(m[2]);
  return end < start ? 'invalid' : { start, end };
}
