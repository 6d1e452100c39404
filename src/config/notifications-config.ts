// notifications: Distribution's webhook section, key for key.
//
//   notifications:
//     events:
//       includereferences: true          # manifest events list the blobs/manifests they reference
//     endpoints:
//       - name: ci                       # for logs
//         disabled: false
//         url: https://ci.example/hook   # events are POSTed here
//         headers: { Authorization: [Bearer xyz] }
//         timeout: 1s                    # one POST, connect to answer (default 1s)
//         threshold: 10                  # consecutive failures before backing off (default 10)
//         backoff: 1s                    # the wait between attempts once backing off (default 1s)
//         ignoredmediatypes: [application/octet-stream]
//         ignore: { mediatypes: [...], actions: [pull] }
//
// Every key is known or refused by name. Header values are never echoed into a message (they
// usually carry the receiver's credentials).
import type { EndpointConfig, NotificationsConfig } from './config-types.js';
import { keysUnder } from './config-keys.js';

type Fail = (key: string, problem: string) => never;
type Duration = (value: unknown, key: string) => number;

const KEYS = keysUnder('notifications');
const EVENTS_KEYS = keysUnder('notifications.events');
const ENDPOINT_KEYS = keysUnder('notifications.endpoints[]');
const IGNORE_KEYS = keysUnder('notifications.endpoints[].ignore');
/** The actions Distribution's events carry. */
const EVENT_ACTIONS = ['push', 'pull', 'mount', 'delete'];
/** Distribution's defaults (notifications/endpoint.go), used when a value is absent or not positive. */
export const ENDPOINT_DEFAULTS = { timeoutMs: 1000, threshold: 10, backoffMs: 1000 } as const;

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function known(value: Record<string, unknown>, keys: string[], where: string, fail: Fail): void {
  for (const k of Object.keys(value)) if (!keys.includes(k)) fail(`${where}.${k}`, `is not a ${where.replace(/\[\d+\]/g, '[]')} key; known keys: ${keys.join(', ')}`);
}

function strings(value: unknown, key: string, fail: Fail): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) return fail(key, 'must be a list of strings');
  return [...(value as string[])];
}

function flag(value: unknown, key: string, fail: Fail): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') fail(key, 'must be true or false');
  return value as boolean;
}

function headers(value: unknown, key: string, fail: Fail): Record<string, string[]> {
  if (value === undefined || value === null) return {};
  if (!isMapping(value)) return fail(key, 'must be a mapping of header name to a list of values');
  const out: Record<string, string[]> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) fail(key, `"${name}" is not a header name`);
    const list = Array.isArray(v) ? v : [v];
    // Distribution's http.Header takes a list; a single scalar is accepted as a list of one.
    if (!list.every((x) => typeof x === 'string' || typeof x === 'number')) fail(`${key}.${name}`, 'must be a list of strings');
    const values = list.map(String);
    if (values.some((x) => /[\r\n\0]/.test(x))) fail(`${key}.${name}`, 'must not contain line breaks');
    out[name] = values;
  }
  return out;
}

function positiveOrDefault(value: number, fallback: number): number {
  return value > 0 ? value : fallback;
}

export function parseNotifications(value: unknown, fail: Fail, duration: Duration): NotificationsConfig | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isMapping(value)) return fail('notifications', 'must be a mapping (events, endpoints)');
  known(value, KEYS, 'notifications', fail);
  let includeReferences = false;
  if (value.events !== undefined && value.events !== null) {
    if (!isMapping(value.events)) fail('notifications.events', 'must be a mapping');
    const events = value.events as Record<string, unknown>;
    known(events, EVENTS_KEYS, 'notifications.events', fail);
    includeReferences = flag(events.includereferences, 'notifications.events.includereferences', fail);
  }
  const rawEndpoints = value.endpoints ?? [];
  if (!Array.isArray(rawEndpoints)) return fail('notifications.endpoints', 'must be a list of endpoints');
  const endpoints: EndpointConfig[] = rawEndpoints.map((raw: unknown, i) => {
    const where = `notifications.endpoints[${i}]`;
    const key = (k: string): string => `${where}.${k}`;
    if (!isMapping(raw)) return fail(where, 'must be a mapping with at least name and url');
    known(raw, ENDPOINT_KEYS, where, fail);
    const disabled = flag(raw.disabled, key('disabled'), fail);
    if (raw.name !== undefined && raw.name !== null && typeof raw.name !== 'string') fail(key('name'), 'must be a string');
    let url: URL | undefined;
    if (typeof raw.url !== 'string' || raw.url === '') {
      if (!disabled) fail(key('url'), 'is required (the http:// or https:// URL events are POSTed to)');
    } else {
      try {
        url = new URL(raw.url);
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) fail(key('url'), 'must be an http:// or https:// URL');
    }
    const ignore = raw.ignore === undefined || raw.ignore === null ? {} : isMapping(raw.ignore) ? raw.ignore : fail(key('ignore'), 'must be a mapping (mediatypes, actions)');
    known(ignore, IGNORE_KEYS, key('ignore'), fail);
    let threshold = 0;
    if (raw.threshold !== undefined && raw.threshold !== null) {
      if (typeof raw.threshold !== 'number' || !Number.isSafeInteger(raw.threshold)) fail(key('threshold'), 'must be a whole number');
      threshold = raw.threshold as number;
    }
    const endpoint: EndpointConfig = {
      name: typeof raw.name === 'string' && raw.name !== '' ? raw.name : `endpoints[${i}]`,
      disabled,
      url: url?.href ?? '',
      headers: headers(raw.headers, key('headers'), fail),
      timeoutMs: positiveOrDefault(raw.timeout === undefined || raw.timeout === null ? 0 : duration(raw.timeout, key('timeout')), ENDPOINT_DEFAULTS.timeoutMs),
      threshold: positiveOrDefault(threshold, ENDPOINT_DEFAULTS.threshold),
      backoffMs: positiveOrDefault(raw.backoff === undefined || raw.backoff === null ? 0 : duration(raw.backoff, key('backoff')), ENDPOINT_DEFAULTS.backoffMs),
      // Distribution merges the older list and ignore.mediatypes into one.
      ignoredMediaTypes: [...new Set([...strings(ignore.mediatypes, key('ignore.mediatypes'), fail), ...strings(raw.ignoredmediatypes, key('ignoredmediatypes'), fail)])],
      ignoredActions: [...new Set(strings(ignore.actions, key('ignore.actions'), fail))],
    };
    // Distribution compares the strings as given; a misspelt action would silently ignore nothing.
    for (const action of endpoint.ignoredActions) if (!EVENT_ACTIONS.includes(action)) fail(key('ignore.actions'), `"${action}" is not one of ${EVENT_ACTIONS.join(', ')}`);
    return endpoint;
  });
  return { includeReferences, endpoints };
}
