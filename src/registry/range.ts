// HTTP Range for blob reads: one range of bytes (RFC 9110). Several ranges are answered as the
// whole blob, which the RFC allows; a range that cannot be satisfied is 416.

export type RangeResult = { kind: 'whole' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'whole' };
  // RFC 9110 §14.2: a range unit the server does not know is ignored.
  if (!/^\s*bytes=/i.test(header)) return { kind: 'whole' };
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (!m) {
    return /^bytes=.*,/.test(header.trim()) ? { kind: 'whole' } : { kind: 'unsatisfiable' };
  }
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'unsatisfiable' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || (last !== '' && Number(last) < start)) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
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
