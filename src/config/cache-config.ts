// storage.cache and the top-level redis section, Distribution's keys: the blob descriptor cache
// (src/storage/blob-descriptor-cache.ts). A misspelled key is an error naming it.
import { keysUnder } from './config-keys.js';

export interface RedisConfig {
  /** host:port */
  addr: string;
  password?: string;
  db: number;
  dialTimeoutMs: number;
  readTimeoutMs: number;
  writeTimeoutMs: number;
  tls: boolean;
}

export interface CacheConfig {
  blobDescriptor: 'inmemory' | 'redis';
  /** Most entries the in-memory cache keeps (Distribution 3's blobdescriptorsize; default 10,000). */
  size: number;
  redis?: RedisConfig;
}

type Fail = (key: string, problem: string) => never;
type Duration = (value: unknown, key: string) => number;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Refuses, by path, a key config-keys.ts does not list under `path` (`known` is keysUnder(path)). */
function onlyKeys(value: Record<string, unknown>, path: string, known: readonly string[], fail: Fail): void {
  for (const key of Object.keys(value)) if (!known.includes(key)) fail(`${path}.${key}`, `is not a known key (${path} takes ${known.join(', ')})`);
}

export function parseCache(cache: unknown, redis: unknown, fail: Fail, duration: Duration): CacheConfig | undefined {
  if (cache === undefined || cache === null) return undefined;
  if (!isObject(cache)) return fail('storage.cache', 'must be a mapping');
  onlyKeys(cache, 'storage.cache', keysUnder('storage.cache'), fail);
  const kind = cache.blobdescriptor;
  if (kind === undefined || kind === null || kind === '') return undefined;
  if (kind !== 'inmemory' && kind !== 'redis') return fail('storage.cache.blobdescriptor', 'must be inmemory or redis');
  const size = cache.blobdescriptorsize ?? 10_000;
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) fail('storage.cache.blobdescriptorsize', 'must be a positive whole number');
  const config: CacheConfig = { blobDescriptor: kind, size: size as number };
  if (kind === 'redis') config.redis = parseRedis(redis, fail, duration);
  return config;
}

export function parseRedis(redis: unknown, fail: Fail, duration: Duration): RedisConfig {
  if (!isObject(redis)) return fail('redis', 'must be a mapping with addr (storage.cache.blobdescriptor is redis)');
  onlyKeys(redis, 'redis', keysUnder('redis'), fail);
  if (typeof redis.addr !== 'string' || !/^[^\s:]+:\d+$/.test(redis.addr)) fail('redis.addr', 'must be host:port');
  if (redis.password !== undefined && redis.password !== null && typeof redis.password !== 'string') fail('redis.password', 'must be a string');
  const db = redis.db ?? 0;
  if (typeof db !== 'number' || !Number.isInteger(db) || db < 0) fail('redis.db', 'must be a whole number ≥ 0');
  if (redis.pool !== undefined && redis.pool !== null) {
    // One multiplexed connection serves every request; the pool sizes have nothing to size.
    if (!isObject(redis.pool)) fail('redis.pool', 'must be a mapping');
    onlyKeys(redis.pool as Record<string, unknown>, 'redis.pool', keysUnder('redis.pool'), fail);
  }
  let tls = false;
  if (redis.tls !== undefined && redis.tls !== null) {
    if (!isObject(redis.tls)) fail('redis.tls', 'must be a mapping');
    onlyKeys(redis.tls as Record<string, unknown>, 'redis.tls', keysUnder('redis.tls'), fail);
    tls = (redis.tls as Record<string, unknown>).enabled === true;
  }
  const config: RedisConfig = {
    addr: redis.addr as string,
    db: db as number,
    dialTimeoutMs: redis.dialtimeout !== undefined ? duration(redis.dialtimeout, 'redis.dialtimeout') : 1_000,
    readTimeoutMs: redis.readtimeout !== undefined ? duration(redis.readtimeout, 'redis.readtimeout') : 500,
    writeTimeoutMs: redis.writetimeout !== undefined ? duration(redis.writetimeout, 'redis.writetimeout') : 500,
    tls,
  };
  if (typeof redis.password === 'string' && redis.password !== '') config.password = redis.password;
  return config;
}
