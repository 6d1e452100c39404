// `n` / `last` pagination shared by the tag list and the catalog, with the RFC 5988 Link header.
import { RegistryError } from './errors.js';

export interface Page {
  items: string[];
  /** The Link header value when there are more items. */
  link?: string;
}

/** Parses `n`: absent → undefined; not a non-negative integer → PAGINATION_NUMBER_INVALID. */
export function parseLimit(query: URLSearchParams): number | undefined {
  const raw = query.get('n');
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new RegistryError('PAGINATION_NUMBER_INVALID', { n: raw });
  // A huge n is a request for everything: capped by the caller's maximum, like any other n.
  return Math.min(Number(raw), Number.MAX_SAFE_INTEGER);
}

/** Items strictly after `last` (lexical order), at most `limit`, and a link to the next page. */
export function paginate(sorted: string[], query: URLSearchParams, path: string, maxLimit: number, defaultLimit?: number): Page {
  const requested = parseLimit(query);
  const limit = Math.min(requested ?? defaultLimit ?? Number.MAX_SAFE_INTEGER, maxLimit);
  const last = query.get('last');
  const start = last ? sorted.findIndex((item) => item > last) : 0;
  const rest = start < 0 ? [] : sorted.slice(start);
  const items = rest.slice(0, limit);
  if (rest.length > items.length && items.length > 0) return { items, link: nextPageLink(path, limit, items[items.length - 1]!) };
  return { items };
}

/** The RFC 5988 Link header value for the page after `last`. */
export function nextPageLink(path: string, limit: number, last: string): string {
  const next = new URLSearchParams({ n: String(limit), last });
  return `<${path}?${next.toString()}>; rel="next"`;
}
