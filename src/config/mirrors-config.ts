// regate.mirrors, and Distribution's `proxy` section: pull-through caches of other registries.
//
//   regate:
//     mirrors:
//       - name: docker.io                       # the registry host it stands for: the path prefix
//         url: https://registry-1.docker.io     #   (docker.io/library/alpine) and containerd's ?ns=;
//                                               #   or a list, tried in order when one fails
//         username: me                          # or passwordfile: /run/secrets/hub (never logged)
//         password: …
//         ca: /etc/regate/upstream-ca.pem       # PEM bundle to trust, beside the system's
//         insecureskipverify: false
//         tagttl: 5m                            # a tag is served this long before the upstream is asked again
//         ttl: 168h                             # cached content nobody pulled this long goes at a GC pass (0: kept)
//         default: true                         # unprefixed names with no ?ns= (Docker's registry-mirrors)
//
// `proxy: {remoteurl, username, password, ttl}` keeps Distribution's meaning: one upstream for
// every name, and the registry pull-only. Every key is known or refused by name; no value is echoed.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { MirrorConfig, MirrorsConfig } from './config-types.js';
import { keysUnder } from './config-keys.js';

type Fail = (key: string, problem: string) => never;
type Duration = (value: unknown, key: string) => number;

const KEYS = keysUnder('regate.mirrors[]');
const PROXY_KEYS = keysUnder('proxy');
/** A registry host as a repository name's first component can hold it. */
const NAME_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const DEFAULT_TAG_TTL = '5m';
/** Distribution's proxy.ttl default. */
const DEFAULT_TTL = '168h';

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function origin(value: unknown, key: string, fail: Fail): string {
  if (typeof value !== 'string' || value === '') return fail(key, 'is required (https://HOST[:PORT] of the registry to mirror)');
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return fail(key, 'must be an http:// or https:// URL');
  if (url.username || url.password) fail(key, 'must not carry credentials: use username and password (or passwordfile)');
  if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) fail(key, "must be the registry's origin, without a path");
  return url.origin;
}

/** The host Docker's names use for Docker Hub's registry. */
function hostName(url: string): string {
  const host = new URL(url).host;
  return host === 'registry-1.docker.io' || host === 'index.docker.io' ? 'docker.io' : host;
}

export function parseMirrors(value: unknown, proxy: unknown, fail: Fail, duration: Duration, baseDir: string): MirrorsConfig | undefined {
  const mirrors: MirrorConfig[] = [];
  let pullOnly = false;
  if (isMapping(proxy) && Object.keys(proxy).length > 0) {
    for (const k of Object.keys(proxy)) if (!PROXY_KEYS.includes(k)) fail(`proxy.${k}`, `is not a proxy key; known keys: ${PROXY_KEYS.join(', ')}`);
    const url = origin(proxy.remoteurl, 'proxy.remoteurl', fail);
    const name = hostName(url);
    mirrors.push({
      name: NAME_COMPONENT.test(name) ? name : name.replace(/[^a-z0-9.-]/g, '-'),
      urls: [url],
      ...credentials(proxy, 'proxy', fail, baseDir),
      insecureSkipVerify: false,
      tagTtlMs: duration(DEFAULT_TAG_TTL, 'proxy.ttl'),
      ttlMs: duration(proxy.ttl ?? DEFAULT_TTL, 'proxy.ttl'),
      default: true,
    });
    pullOnly = true;
  } else if (proxy !== undefined && proxy !== null && !isMapping(proxy)) {
    fail('proxy', 'must be a mapping (remoteurl, username, password, ttl)');
  }
  if (value !== undefined && value !== null) {
    if (pullOnly) fail('regate.mirrors', 'cannot be combined with proxy (Distribution\'s one upstream for the whole registry): move it into regate.mirrors');
    if (!Array.isArray(value) || value.length === 0) fail('regate.mirrors', 'must be a non-empty list of mirrors');
    (value as unknown[]).forEach((entry, i) => {
      const key = (k?: string): string => `regate.mirrors[${i}]${k ? `.${k}` : ''}`;
      if (!isMapping(entry)) return fail(key(), 'must be a mapping (name, url, …)');
      for (const k of Object.keys(entry)) if (!KEYS.includes(k)) fail(key(k), `is not a mirror key; known keys: ${KEYS.join(', ')}`);
      if (typeof entry.name !== 'string' || !NAME_COMPONENT.test(entry.name)) {
        fail(key('name'), 'must be the registry host it stands for, as a repository name component (docker.io, ghcr.io, quay.io)');
      }
      const bool = (k: string): boolean => {
        if (entry[k] === undefined || entry[k] === null) return false;
        if (typeof entry[k] !== 'boolean') fail(key(k), 'must be true or false');
        return entry[k] as boolean;
      };
      let ca: string | undefined;
      if (entry.ca !== undefined && entry.ca !== null) {
        if (typeof entry.ca !== 'string' || entry.ca === '') fail(key('ca'), 'must be the path of a PEM file');
        try {
          ca = readFileSync(isAbsolute(entry.ca as string) ? (entry.ca as string) : resolve(baseDir, entry.ca as string), 'utf8');
        } catch (err) {
          fail(key('ca'), `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        if (!ca!.includes('-----BEGIN CERTIFICATE-----')) fail(key('ca'), 'holds no PEM certificate');
      }
      const urls = Array.isArray(entry.url) ? (entry.url as unknown[]) : [entry.url];
      if (urls.length === 0) fail(key('url'), 'must be a URL or a non-empty list of them');
      mirrors.push({
        name: entry.name as string,
        urls: urls.map((u, j) => origin(u, Array.isArray(entry.url) ? `${key('url')}[${j}]` : key('url'), fail)),
        ...credentials(entry, key(), fail, baseDir),
        ...(ca !== undefined ? { ca } : {}),
        insecureSkipVerify: bool('insecureskipverify'),
        tagTtlMs: duration(entry.tagttl ?? DEFAULT_TAG_TTL, key('tagttl')),
        ttlMs: duration(entry.ttl ?? DEFAULT_TTL, key('ttl')),
        default: bool('default'),
      });
    });
  }
  if (mirrors.length === 0) return undefined;
  const names = new Set<string>();
  mirrors.forEach((m, i) => {
    if (names.has(m.name)) fail(`regate.mirrors[${i}].name`, `${m.name} is named twice`);
    names.add(m.name);
  });
  if (mirrors.filter((m) => m.default).length > 1) fail('regate.mirrors', 'at most one mirror may be the default');
  return { mirrors, pullOnly };
}

function credentials(entry: Record<string, unknown>, at: string, fail: Fail, baseDir: string): { credentials?: { username: string; password: string } } {
  const key = (k: string): string => `${at}.${k}`;
  const username = entry.username === undefined || entry.username === null ? undefined : String(entry.username);
  let password = entry.password === undefined || entry.password === null ? undefined : String(entry.password);
  if (entry.passwordfile !== undefined && entry.passwordfile !== null) {
    if (password !== undefined) fail(key('passwordfile'), 'cannot be combined with password');
    if (typeof entry.passwordfile !== 'string' || entry.passwordfile === '') fail(key('passwordfile'), 'must be a path');
    const path = isAbsolute(entry.passwordfile as string) ? (entry.passwordfile as string) : resolve(baseDir, entry.passwordfile as string);
    try {
      password = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      fail(key('passwordfile'), `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if ((username === undefined) !== (password === undefined)) fail(key(username === undefined ? 'username' : 'password'), 'goes with the username and the password (or passwordfile) together');
  return username !== undefined ? { credentials: { username, password: password! } } : {};
}
