// regate.upstream: the gateway in front of an existing registry instead of the embedded one.
// Every key is known or refused by name, and no value is echoed into a message (the section may
// hold the gateway's own upstream password).
import type { UpstreamConfig } from './config-types.js';
import { keysUnder } from './config-keys.js';

type Fail = (key: string, problem: string) => never;
type Duration = (value: unknown, key: string) => number;

const KEYS = keysUnder('regate.upstream');

export function parseUpstream(value: unknown, fail: Fail, duration: Duration): UpstreamConfig | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return fail('regate.upstream', 'must be a mapping');
  const u = value as Record<string, unknown>;
  const key = (k: string): string => `regate.upstream.${k}`;
  for (const k of Object.keys(u)) if (!KEYS.includes(k)) fail(key(k), `is not a regate.upstream key; known keys: ${KEYS.join(', ')}`);
  const bool = (k: string): boolean => {
    if (u[k] === undefined || u[k] === null) return false;
    if (typeof u[k] !== 'boolean') fail(key(k), 'must be true or false');
    return u[k] as boolean;
  };

  if (typeof u.url !== 'string' || u.url === '') return fail(key('url'), 'is required (http://HOST:PORT of the registry behind regate)');
  let url: URL | undefined;
  try {
    url = new URL(u.url);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return fail(key('url'), 'must be an http:// or https:// URL');
  if (url.username || url.password) fail(key('url'), 'must not carry credentials: use regate.upstream.username and password');
  if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) fail(key('url'), 'must be the registry\'s origin (no path: regate forwards /v2/ as it comes)');

  const username = u.username === undefined || u.username === null ? undefined : String(u.username);
  const password = u.password === undefined || u.password === null ? undefined : String(u.password);
  if ((username === undefined) !== (password === undefined)) fail(key(username === undefined ? 'username' : 'password'), 'goes with regate.upstream.username and password together');
  const passAuthorization = bool('passauthorization');
  if (passAuthorization && username !== undefined) fail(key('passauthorization'), 'cannot be combined with the gateway\'s own upstream credentials');

  const idleTimeoutMs = duration(u.idletimeout ?? '900s', key('idletimeout'));
  if (idleTimeoutMs === 0) fail(key('idletimeout'), 'must be positive');
  let maxSockets = 128;
  if (u.maxconnections !== undefined && u.maxconnections !== null) {
    if (typeof u.maxconnections !== 'number' || !Number.isSafeInteger(u.maxconnections) || u.maxconnections < 1) fail(key('maxconnections'), 'must be a positive whole number');
    maxSockets = u.maxconnections as number;
  }
  return {
    url: url.origin,
    passAuthorization,
    ...(username !== undefined ? { credentials: { username, password: password! } } : {}),
    idleTimeoutMs,
    maxSockets,
    insecureSkipVerify: bool('insecureskipverify'),
  };
}
