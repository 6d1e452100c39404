// Reads a Distribution config.yml (or nothing at all), applies REGISTRY_* environment overrides,
// fills defaults and validates. Every problem names the key it is about.
import { parseCache } from './cache-config.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { applyEnvOverrides, isObject, type RawConfig } from './env-overrides.js';
import type { DebugConfig, HttpConfig, LogFormatter, LogLevel, RegateConfig, StorageConfig, StorageDriverName, TlsMode, TlsVersion } from './config-types.js';
import { DEFAULT_HTPASSWD_PATH } from '../auth/initial-user.js';
import { parseUpstream } from './upstream-config.js';
import { parseMirrors } from './mirrors-config.js';
import { parseAccess } from './access-config.js';
import { parseNotifications } from './notifications-config.js';
import { checkDistributionKeys } from './distribution-keys.js';
import { parseSwiftParameters } from './swift-config.js';
import { compileTrustedProxies } from '../gateway/client-address.js';
import { keysUnder, refusedUnder, STORAGE_DRIVERS, STORAGE_SECTIONS } from './config-keys.js';

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    problem: string,
    readonly source: string,
  ) {
    super(`${source}: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/**
 * The configuration used when no file is given: secure by default. TLS with a generated CA and
 * server certificate (./certs), Basic auth from ./htpasswd/htpasswd (created on first start with a
 * random admin password), on every interface, port 5000 (Distribution's port).
 */
export const DEFAULT_RAW_CONFIG: RawConfig = {
  version: '0.1',
  log: { level: 'info', formatter: 'text' },
  storage: { filesystem: { rootdirectory: './data' }, delete: { enabled: false } },
  http: { addr: ':5000' },
  auth: { htpasswd: { realm: 'regate', path: DEFAULT_HTPASSWD_PATH } },
  regate: { tls: { generate: true } },
};

/** Paths answered 200 without auth when regate.ping is not configured (seed 004's nginx, plus `/`). */
/** Where the debug listener answers with the health checks (Distribution's path). */
export const DEBUG_HEALTH_PATH = '/debug/health';

export const DEFAULT_PING_PATHS: readonly string[] = ['/_ping', '/v1/_ping', '/'];

// The known keys of each section come from config-keys.ts, the list docs/configuration.md documents.
const KNOWN_REGATE = new Set(keysUnder('regate'));
const KNOWN_TOP = new Set(keysUnder(''));
const LOG_KEYS = keysUnder('log');
/** The auth kinds regate provides (htpasswd); Distribution's others (silly, token) and any other name are refused. */
const AUTH_KINDS = keysUnder('auth').filter((kind) => !refusedUnder('auth').includes(kind));
const STORAGE_HEALTH_KEYS = keysUnder('health.storagedriver');
const DRIVERS: readonly StorageDriverName[] = STORAGE_DRIVERS;
/** Distribution's drivers regate does not provide (storage.s3, …): refused by name. */
const DISTRIBUTION_ONLY_DRIVERS = refusedUnder('storage');
const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
const LOG_FORMATTERS: readonly LogFormatter[] = ['text', 'json', 'logstash'];

export interface LoadOptions {
  /**
   * Values for keys that neither the file (or the built-in defaults) nor a REGISTRY_* variable
   * sets: how a deployment (the container image) gives its own defaults without overriding a key
   * the operator wrote, as an environment variable would.
   */
  defaults?: RawConfig;
}

/** `base` with every key of `defaults` it lacks filled in (mappings merged, anything else kept). */
function withDefaults(base: RawConfig, defaults: RawConfig): RawConfig {
  const out: RawConfig = { ...base };
  for (const [key, value] of Object.entries(defaults)) {
    if (out[key] === undefined || out[key] === null) out[key] = value;
    else if (isObject(out[key]) && isObject(value)) out[key] = withDefaults(out[key] as RawConfig, value);
  }
  return out;
}

export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): RegateConfig {
  const source = file ?? '(built-in defaults)';
  let raw: RawConfig = DEFAULT_RAW_CONFIG;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError('(file)', `cannot read: ${(err as Error).message}`, source);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new ConfigError('(yaml)', (err as Error).message, source);
    }
    if (!isObject(parsed)) throw new ConfigError('(root)', 'the file is not a YAML mapping', source);
    raw = parsed;
  }
  // Relative paths resolve against the working directory, as Distribution resolves them.
  const overridden = applyEnvOverrides(raw, env);
  return validateConfig(options.defaults ? withDefaults(overridden, options.defaults) : overridden, source, process.cwd());
}

/** Pure validation of a raw (already overridden) config. `baseDir` resolves relative paths. */
export function validateConfig(raw: RawConfig, source: string, baseDir: string): RegateConfig {
  const fail = (key: string, problem: string): never => {
    throw new ConfigError(key, problem, source);
  };
  const warnings: string[] = [];
  for (const key of Object.keys(raw)) if (!KNOWN_TOP.has(key)) warnings.push(`unknown top-level key "${key}" ignored`);

  const version = raw.version === undefined ? fail('version', 'is required (use 0.1)') : String(raw.version);
  if (version !== '0.1') fail('version', `unsupported version ${version} (expected 0.1)`);
  checkDistributionKeys(raw, fail, warnings);

  const log = isObject(raw.log) ? raw.log : {};
  for (const key of Object.keys(log)) if (!LOG_KEYS.includes(key)) warnings.push(`unknown key "log.${key}" ignored`);
  const level = String(log.level ?? raw.loglevel ?? 'info').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) fail('log.level', `must be one of ${LOG_LEVELS.join(', ')}`);
  const formatter = String(log.formatter ?? 'text').toLowerCase() as LogFormatter;
  if (!LOG_FORMATTERS.includes(formatter)) fail('log.formatter', `must be one of ${LOG_FORMATTERS.join(', ')}`);
  if (log.fields !== undefined && !isObject(log.fields)) fail('log.fields', 'must be a mapping');

  const ownSection = isObject(raw.regate) ? raw.regate : {};
  const upstream = parseUpstream(ownSection.upstream, fail, (value, key) => duration(value, key, fail));
  if (upstream && raw.storage !== undefined && raw.storage !== null) {
    fail('storage', 'is not used in upstream mode (regate.upstream.url): the registry behind regate keeps the data; remove one of the two');
  }
  const storage = upstream ? undefined : validateStorage(raw.storage, fail, baseDir);
  const mirrors = parseMirrors(ownSection.mirrors, raw.proxy, fail, (value, key) => duration(value, key, fail), baseDir);
  if (mirrors && upstream) fail(raw.proxy !== undefined && raw.proxy !== null ? 'proxy' : 'regate.mirrors', 'is not used in upstream mode (regate.upstream.url): a pull-through cache keeps what it fetched in storage');
  if (storage) {
    const cache = parseCache((raw.storage as Record<string, unknown>).cache, raw.redis, fail, (value, key) => duration(value, key, fail));
    if (cache) storage.cache = cache;
  }
  if (storage?.swift && !storage.swift.secretKey && (storage.swift.tempUrlContainerKey || storage.swift.tempUrlMethods.length > 0)) {
    warnings.push('storage.swift: tempurlcontainerkey/tempurlmethods have no effect without secretkey (no TempURL redirects)');
  }
  const http = validateHttp(raw.http, fail, baseDir, warnings);

  let auth: RegateConfig['auth'];
  if (raw.auth !== undefined && raw.auth !== null) {
    if (!isObject(raw.auth)) fail('auth', 'must be a mapping');
    const a = raw.auth as Record<string, unknown>;
    if (a.htpasswd !== undefined) {
      if (!isObject(a.htpasswd)) fail('auth.htpasswd', 'must be a mapping');
      const h = a.htpasswd as Record<string, unknown>;
      if (typeof h.path !== 'string' || h.path === '') fail('auth.htpasswd.path', 'is required');
      auth = { htpasswd: { realm: typeof h.realm === 'string' ? h.realm : 'basic-realm', path: resolve(baseDir, h.path as string) } };
    }
    for (const key of Object.keys(a)) if (!AUTH_KINDS.includes(key)) fail(`auth.${key}`, 'is not supported (regate supports auth.htpasswd)');
  }

  if (raw.regate !== undefined && raw.regate !== null && !isObject(raw.regate)) fail('regate', 'must be a mapping');
  const own = isObject(raw.regate) ? raw.regate : {};
  for (const key of Object.keys(own)) if (!KNOWN_REGATE.has(key)) warnings.push(`unknown key "regate.${key}" ignored`);
  const manifestMaxBytes = nonNegativeInt(own.manifestmaxbytes ?? 4 * 1024 * 1024, 'regate.manifestmaxbytes', fail);
  if (manifestMaxBytes === 0) fail('regate.manifestmaxbytes', 'must be positive');
  const blobMaxBytes = nonNegativeInt(own.blobmaxbytes ?? 0, 'regate.blobmaxbytes', fail);

  const ownTls = section(own, 'tls', 'regate.tls', fail, warnings);
  if (ownTls.generate !== undefined && typeof ownTls.generate !== 'boolean') fail('regate.tls.generate', 'must be true or false');
  const tlsMode: TlsMode = http.tls ? 'files' : ownTls.generate === true ? 'generated' : 'off';
  if (ownTls.dir !== undefined && (typeof ownTls.dir !== 'string' || ownTls.dir === '')) fail('regate.tls.dir', 'must be a non-empty path');
  const tlsDir = resolve(baseDir, typeof ownTls.dir === 'string' ? ownTls.dir : 'certs');
  const tlsHosts = stringList(ownTls.hosts ?? [], 'regate.tls.hosts', fail);
  for (const host of tlsHosts) if (!/^[A-Za-z0-9.:_-]+$/.test(host)) fail('regate.tls.hosts', `"${host}" is not a host name or IP address`);

  const pingPaths = stringList(own.ping ?? DEFAULT_PING_PATHS, 'regate.ping', fail);
  for (const path of pingPaths) {
    const why = pingPathProblem(path);
    if (why) fail('regate.ping', `"${path}" ${why}`);
  }

  const ownHttp = section(own, 'http', 'regate.http', fail, warnings);
  const headersTimeoutMs = duration(ownHttp.headerstimeout ?? '60s', 'regate.http.headerstimeout', fail);
  if (headersTimeoutMs === 0) fail('regate.http.headerstimeout', 'must be positive (it is what cuts off slowloris clients)');
  const keepAliveTimeoutMs = duration(ownHttp.keepalivetimeout ?? '30s', 'regate.http.keepalivetimeout', fail);
  if (keepAliveTimeoutMs === 0) fail('regate.http.keepalivetimeout', 'must be positive');
  const idleTimeoutMs = duration(ownHttp.idletimeout ?? '5m', 'regate.http.idletimeout', fail);
  const trustedProxies = stringList(ownHttp.trustedproxies ?? [], 'regate.http.trustedproxies', fail);
  try {
    compileTrustedProxies(trustedProxies);
  } catch (err) {
    fail('regate.http.trustedproxies', (err as Error).message);
  }

  const ownAuth = section(own, 'auth', 'regate.auth', fail, warnings);
  const maxFailures = nonNegativeInt(ownAuth.maxfailures ?? 10, 'regate.auth.maxfailures', fail);
  if (maxFailures === 0) fail('regate.auth.maxfailures', 'must be positive');
  const failureWindowMs = duration(ownAuth.failurewindow ?? '1m', 'regate.auth.failurewindow', fail);
  if (failureWindowMs === 0) fail('regate.auth.failurewindow', 'must be positive');

  const ownGc = section(own, 'gc', 'regate.gc', fail, warnings);
  if (ownGc.enabled !== undefined && typeof ownGc.enabled !== 'boolean') fail('regate.gc.enabled', 'must be true or false');
  if (ownGc.deleteuntagged !== undefined && typeof ownGc.deleteuntagged !== 'boolean') fail('regate.gc.deleteuntagged', 'must be true or false');
  const objectStore = storage?.driver === 'swift';
  const gc = {
    enabled: ownGc.enabled === true,
    intervalMs: duration(ownGc.interval ?? '24h', 'regate.gc.interval', fail),
    delayMs: duration(ownGc.delay ?? '1h', 'regate.gc.delay', fail),
    deleteUntagged: ownGc.deleteuntagged === true,
    listingLagMs: duration(ownGc.listinglag ?? (objectStore ? '60s' : '0s'), 'regate.gc.listinglag', fail),
    linkWindowMs: duration(ownGc.linkwindow ?? '60s', 'regate.gc.linkwindow', fail),
  };
  if (gc.linkWindowMs === 0) fail('regate.gc.linkwindow', 'must be positive');
  if (gc.enabled && gc.intervalMs === 0) fail('regate.gc.interval', 'must be positive');
  if (gc.enabled && upstream) fail('regate.gc', 'is not used in upstream mode (regate.upstream.url): the registry behind regate keeps the data');
  if (gc.enabled && storage?.readOnly) warnings.push('regate.gc: no background pass while storage.maintenance.readonly is enabled');

  const ownUi = section(own, 'ui', 'regate.ui', fail, warnings);
  if (ownUi.enabled !== undefined && typeof ownUi.enabled !== 'boolean') fail('regate.ui.enabled', 'must be true or false');
  const sessionTtlMs = duration(ownUi.sessionttl ?? '1h', 'regate.ui.sessionttl', fail);
  if (sessionTtlMs < 60_000 || sessionTtlMs > 24 * 3_600_000) fail('regate.ui.sessionttl', 'must be between 1m and 24h');
  const ui = { enabled: ownUi.enabled !== false, sessionTtlMs };

  const access = parseAccess(own.access, baseDir, fail, warnings);
  if (access && !auth) fail('regate.access', 'needs auth.htpasswd: rights are given to authenticated users');

  const notifications = parseNotifications(raw.notifications, fail, (value, key) => duration(value, key, fail));
  const enabledEndpoints = notifications?.endpoints.filter((e) => !e.disabled) ?? [];
  if (enabledEndpoints.length > 0 && upstream) {
    fail('notifications', 'is not supported in upstream mode (regate.upstream.url): the registry behind regate sees the pushes and pulls, so it is the one to send events');
  }

  const config: RegateConfig = {
    version,
    log: { level, formatter, fields: isObject(log.fields) ? log.fields : {}, accessLog: !accessLogDisabled(log.accesslog, fail) },
    ...(storage ? { storage } : {}),
    ...(upstream ? { upstream } : {}),
    ...(mirrors ? { mirrors } : {}),
    http,
    regate: {
      manifestMaxBytes,
      blobMaxBytes,
      tls: { mode: tlsMode, dir: tlsDir, hosts: tlsHosts },
      pingPaths,
      http: { headersTimeoutMs, keepAliveTimeoutMs, idleTimeoutMs, trustedProxies },
      auth: { maxFailures, failureWindowMs },
      ...(access ? { access } : {}),
      gc,
      ui,
    },
    source,
    warnings,
  };
  if (auth) config.auth = auth;
  if (notifications && enabledEndpoints.length > 0) config.notifications = notifications;
  if (isObject(raw.health)) config.health = raw.health;
  const storageHealth = validateStorageHealth(raw.health, fail);
  if (storageHealth && upstream) warnings.push('health.storagedriver has no effect in upstream mode (there is no storage driver here)');
  else if (storageHealth) config.storageHealth = storageHealth;
  noticeUnknownKeys(raw, warnings);
  return config;
}

/**
 * Sections whose validators read only the keys they use: a misspelling there would do nothing,
 * silently (`storage.delete.enable: true` leaves deletes off), so it is named in a notice and
 * ignored, as at the top level.
 */
const NOTICED_SECTIONS = [
  'storage.inmemory', 'storage.delete', 'storage.maintenance', 'storage.maintenance.readonly', 'storage.maintenance.uploadpurging',
  'log.accesslog', 'auth.htpasswd', 'health', 'compatibility', 'compatibility.schema1', 'validation',
];

function noticeUnknownKeys(raw: RawConfig, warnings: string[]): void {
  for (const section of NOTICED_SECTIONS) {
    let node: unknown = raw;
    for (const part of section.split('.')) node = isObject(node) ? node[part] : undefined;
    if (!isObject(node)) continue;
    const known = keysUnder(section);
    for (const key of Object.keys(node)) if (!known.includes(key)) warnings.push(`unknown key "${section}.${key}" ignored`);
  }
}

type Fail = (key: string, problem: string) => never;

/** health.storagedriver (Distribution's keys; interval 10s and threshold 1 by default). */
function validateStorageHealth(health: unknown, fail: Fail): RegateConfig['storageHealth'] {
  if (health === undefined || health === null) return undefined;
  if (!isObject(health)) return fail('health', 'must be a mapping');
  const sd = health.storagedriver;
  if (sd === undefined || sd === null) return undefined;
  if (!isObject(sd)) return fail('health.storagedriver', 'must be a mapping');
  for (const key of Object.keys(sd)) if (!STORAGE_HEALTH_KEYS.includes(key)) fail(`health.storagedriver.${key}`, `is not a known key (${STORAGE_HEALTH_KEYS.join(', ')})`);
  if (sd.enabled !== undefined && typeof sd.enabled !== 'boolean') fail('health.storagedriver.enabled', 'must be true or false');
  if (sd.enabled !== true) return undefined;
  const intervalMs = duration(sd.interval ?? '10s', 'health.storagedriver.interval', fail);
  if (intervalMs === 0) fail('health.storagedriver.interval', 'must be positive');
  const threshold = sd.threshold === undefined ? 1 : nonNegativeInt(sd.threshold, 'health.storagedriver.threshold', fail);
  return { intervalMs, threshold: Math.max(1, threshold) };
}

function accessLogDisabled(value: unknown, fail: Fail): boolean {
  if (value === undefined || value === null) return false;
  if (!isObject(value)) return fail('log.accesslog', 'must be a mapping');
  if (value.disabled !== undefined && typeof value.disabled !== 'boolean') fail('log.accesslog.disabled', 'must be true or false');
  return value.disabled === true;
}

/** An optional mapping under `parent` at path `key`; keys config-keys.ts does not list under it are warned about. */
function section(parent: Record<string, unknown>, name: string, key: string, fail: Fail, warnings: string[]): Record<string, unknown> {
  const value = parent[name];
  if (value === undefined || value === null) return {};
  if (!isObject(value)) return fail(key, 'must be a mapping');
  const known = keysUnder(key);
  for (const k of Object.keys(value)) if (!known.includes(k)) warnings.push(`unknown key "${key}.${k}" ignored`);
  return value;
}

function stringList(value: unknown, key: string, fail: Fail): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return fail(key, 'must be a list of strings');
  return [...(value as string[])];
}

/** Why a configured ping path cannot be matched safely, or undefined. */
function pingPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must start with /';
  if (/[%?#\\\s]/.test(path)) return 'must be a plain path (no %, ?, #, backslash or spaces)';
  if (path.includes('//')) return 'must not contain //';
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return 'must not contain . or .. segments';
  if (path === '/v2' || path.startsWith('/v2/')) return 'is a registry path: it cannot be answered without auth';
  return undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration ("30s", "1m30s", "500ms", "0") in milliseconds. Bare numbers need a unit. */
export function parseDuration(value: string): number | undefined {
  const text = value.trim();
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    at = re.lastIndex;
  }
  return at === 0 ? undefined : Math.round(total);
}

function duration(value: unknown, key: string, fail: Fail): number {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined || !Number.isSafeInteger(ms)) return fail(key, `must be a duration with a unit, like "30s", "500ms" or "5m" (got ${JSON.stringify(value)})`);
  return ms;
}

const TLS_VERSIONS: Record<string, TlsVersion> = { 'tls1.2': 'TLSv1.2', 'tls1.3': 'TLSv1.3' };

function nonNegativeInt(value: unknown, key: string, fail: Fail): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail(key, 'must be a non-negative integer');
  return n as number;
}

/** Distribution's filesystem driver parameters (maxthreads has no effect here: Node's pool does the I/O). */
const FILESYSTEM_KEYS: readonly string[] = keysUnder('storage.filesystem');
const REDIRECT_KEYS: readonly string[] = keysUnder('storage.redirect');

function validateStorage(value: unknown, fail: Fail, baseDir: string): StorageConfig {
  if (!isObject(value)) return fail('storage', 'is required');
  const driverKeys = Object.keys(value).filter((k) => !STORAGE_SECTIONS.has(k));
  if (driverKeys.length === 0) fail('storage', `names no driver (one of ${DRIVERS.join(', ')})`);
  if (driverKeys.length > 1) fail('storage', `names more than one driver: ${driverKeys.join(', ')}`);
  const driverKey = driverKeys[0]!;
  if (!DRIVERS.includes(driverKey as StorageDriverName)) {
    const why = DISTRIBUTION_ONLY_DRIVERS.includes(driverKey) ? 'is a Distribution driver regate does not provide' : 'is not a known driver';
    fail(`storage.${driverKey}`, `${why} (use one of ${DRIVERS.join(', ')})`);
  }
  const driver = driverKey as StorageDriverName;
  const parametersRaw = value[driver];
  if (parametersRaw !== null && parametersRaw !== undefined && !isObject(parametersRaw)) fail(`storage.${driver}`, 'must be a mapping');
  const parameters: Record<string, unknown> = { ...((parametersRaw as Record<string, unknown> | null) ?? {}) };
  if (driver === 'filesystem') {
    // A misspelt rootdirectory would silently store everything under the default path instead.
    for (const key of Object.keys(parameters)) {
      if (!FILESYSTEM_KEYS.includes(key)) fail(`storage.filesystem.${key}`, `is not a known key (storage.filesystem takes ${FILESYSTEM_KEYS.join(', ')})`);
    }
    const root = parameters.rootdirectory ?? '/var/lib/registry';
    if (typeof root !== 'string' || root === '') fail('storage.filesystem.rootdirectory', 'must be a non-empty path');
    parameters.rootdirectory = resolve(baseDir, root as string);
  }
  const swift = driver === 'swift' ? parseSwiftParameters(parameters, fail) : undefined;
  let deleteEnabled = false;
  if (value.delete !== undefined) {
    if (!isObject(value.delete)) fail('storage.delete', 'must be a mapping');
    const enabled = (value.delete as Record<string, unknown>).enabled;
    if (enabled !== undefined && typeof enabled !== 'boolean') fail('storage.delete.enabled', 'must be true or false');
    deleteEnabled = enabled === true;
  }
  let redirect = true;
  if (value.redirect !== undefined && value.redirect !== null) {
    if (!isObject(value.redirect)) fail('storage.redirect', 'must be a mapping');
    const r = value.redirect as Record<string, unknown>;
    for (const key of Object.keys(r)) if (!REDIRECT_KEYS.includes(key)) fail(`storage.redirect.${key}`, `is not a known key (storage.redirect takes ${REDIRECT_KEYS.join(', ')})`);
    if (r.disable !== undefined && typeof r.disable !== 'boolean') fail('storage.redirect.disable', 'must be true or false');
    redirect = r.disable !== true;
  }
  const extra = Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'delete' && k !== 'redirect' && STORAGE_SECTIONS.has(k)));
  const { readOnly, uploadPurging } = validateMaintenance(value.maintenance, fail);
  const storage: StorageConfig = { driver, parameters, deleteEnabled, redirect, readOnly, uploadPurging, extra };
  if (swift) storage.swift = swift;
  return storage;
}

function validateMaintenance(value: unknown, fail: Fail): Pick<StorageConfig, 'readOnly' | 'uploadPurging'> {
  const maintenance = value === undefined || value === null ? {} : isObject(value) ? value : fail('storage.maintenance', 'must be a mapping');
  const flag = (v: unknown, key: string, fallback: boolean): boolean => {
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') fail(key, 'must be true or false');
    return v as boolean;
  };
  const section = (v: unknown, key: string): Record<string, unknown> =>
    v === undefined || v === null ? {} : isObject(v) ? v : fail(key, 'must be a mapping');
  const readonly = section(maintenance.readonly, 'storage.maintenance.readonly');
  const purging = section(maintenance.uploadpurging, 'storage.maintenance.uploadpurging');
  const ageMs = duration(purging.age ?? '168h', 'storage.maintenance.uploadpurging.age', fail);
  const intervalMs = duration(purging.interval ?? '24h', 'storage.maintenance.uploadpurging.interval', fail);
  const enabled = flag(purging.enabled, 'storage.maintenance.uploadpurging.enabled', true);
  if (enabled && (ageMs <= 0 || intervalMs <= 0)) fail('storage.maintenance.uploadpurging', 'age and interval must be positive');
  return {
    readOnly: flag(readonly.enabled, 'storage.maintenance.readonly.enabled', false),
    uploadPurging: { enabled, ageMs, intervalMs, dryRun: flag(purging.dryrun, 'storage.maintenance.uploadpurging.dryrun', false) },
  };
}

/** HOST:PORT (`:5000`, `127.0.0.1:5000`, `[::1]:5000`); an empty host means every interface. */
function hostPort(addr: string, key: string, fail: Fail): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(addr);
  if (!m) return fail(key, `"${addr}" is not HOST:PORT`);
  const port = Number(m[3]);
  if (port > 65535) fail(key, `port ${port} is out of range`);
  return { host: m[1] ?? m[2] ?? '', port };
}

const DEBUG_KEYS = keysUnder('http.debug');
const PROMETHEUS_KEYS = keysUnder('http.debug.prometheus');

/** http.debug (Distribution's keys: addr, prometheus.enabled, prometheus.path); undefined without an addr. */
function validateDebug(value: unknown, fail: Fail): DebugConfig | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) return fail('http.debug', 'must be a mapping');
  for (const key of Object.keys(value)) if (!DEBUG_KEYS.includes(key)) fail(`http.debug.${key}`, `is not a known key (${DEBUG_KEYS.join(', ')})`);
  const p = value.prometheus === undefined || value.prometheus === null ? {} : isObject(value.prometheus) ? value.prometheus : fail('http.debug.prometheus', 'must be a mapping');
  for (const key of Object.keys(p)) if (!PROMETHEUS_KEYS.includes(key)) fail(`http.debug.prometheus.${key}`, `is not a known key (${PROMETHEUS_KEYS.join(', ')})`);
  if (p.enabled !== undefined && typeof p.enabled !== 'boolean') fail('http.debug.prometheus.enabled', 'must be true or false');
  const path = p.path === undefined || p.path === null || p.path === '' ? '/metrics' : p.path;
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~\/-]*$/.test(path) || path.includes('//')) {
    fail('http.debug.prometheus.path', `must be a plain path starting with / (got ${JSON.stringify(path)})`);
  }
  if (path === DEBUG_HEALTH_PATH) fail('http.debug.prometheus.path', `${DEBUG_HEALTH_PATH} is the health endpoint`);
  const enabled = p.enabled === true;
  const addr = value.addr === undefined || value.addr === null ? '' : String(value.addr);
  if (addr === '') {
    if (enabled) fail('http.debug.addr', 'is required for http.debug.prometheus (metrics are served on the debug listener)');
    return undefined;
  }
  const { host, port } = hostPort(addr, 'http.debug.addr', fail);
  return { addr, host, port, prometheus: { enabled, path: path as string } };
}

const HTTP_KEYS: readonly string[] = keysUnder('http');
const TLS_KEYS: readonly string[] = keysUnder('http.tls');
/** Distribution's client-certificate and ACME keys: refused rather than serving without them. */
const TLS_REFUSED_KEYS: readonly string[] = refusedUnder('http.tls');

function validateHttp(value: unknown, fail: Fail, baseDir: string, warnings: string[]): HttpConfig {
  const h = value === undefined ? {} : isObject(value) ? value : fail('http', 'must be a mapping');
  // Distribution 2.8's http keys (those regate does not act on get their own notice, distribution-keys.ts).
  for (const key of Object.keys(h)) if (!HTTP_KEYS.includes(key)) warnings.push(`unknown key "http.${key}" ignored`);
  const addr = h.addr === undefined ? ':5000' : String(h.addr);
  const { host, port } = hostPort(addr, 'http.addr', fail);
  const headers: Record<string, string[]> = {};
  if (h.headers !== undefined) {
    if (!isObject(h.headers)) fail('http.headers', 'must be a mapping of header name to list of values');
    for (const [name, v] of Object.entries(h.headers as Record<string, unknown>)) {
      const values = Array.isArray(v) ? v.map(String) : [String(v)];
      headers[name] = values;
    }
  }
  const drainTimeoutMs = h.draintimeout === undefined ? 0 : duration(h.draintimeout, 'http.draintimeout', fail);
  const config: HttpConfig = { addr, host, port, headers, minimumTls: 'TLSv1.2', drainTimeoutMs };
  if (typeof h.secret === 'string') config.secret = h.secret;
  const debug = validateDebug(h.debug, fail);
  if (debug) {
    if (debug.port !== 0 && debug.port === port && (debug.host === host || debug.host === '' || host === '')) {
      fail('http.debug.addr', `"${debug.addr}" is the main listener's address (http.addr ${addr}); give the debug listener a port of its own`);
    }
    config.debug = debug;
  }
  if (h.tls !== undefined && h.tls !== null) {
    if (!isObject(h.tls)) fail('http.tls', 'must be a mapping');
    const t = h.tls as Record<string, unknown>;
    for (const key of TLS_REFUSED_KEYS) {
      if (t[key] !== undefined) fail(`http.tls.${key}`, 'is not supported by regate');
    }
    for (const key of Object.keys(t)) {
      if (!TLS_KEYS.includes(key)) warnings.push(`unknown or unsupported key "http.tls.${key}" ignored`);
    }
    const hasCert = t.certificate !== undefined && t.certificate !== '';
    const hasKey = t.key !== undefined && t.key !== '';
    if (hasCert || hasKey) {
      // Distribution serves plain HTTP when no certificate is given; one without the other is a mistake.
      if (typeof t.certificate !== 'string' || typeof t.key !== 'string' || !hasCert || !hasKey) fail('http.tls', 'needs both certificate and key');
      config.tls = { certificate: resolve(baseDir, t.certificate as string), key: resolve(baseDir, t.key as string) };
    }
    if (t.minimumtls !== undefined) {
      const wanted = String(t.minimumtls).toLowerCase();
      const version = TLS_VERSIONS[wanted];
      if (!version) {
        const why = wanted === 'tls1.0' || wanted === 'tls1.1' ? `${wanted} is not accepted (regate needs tls1.2 or later)` : 'must be tls1.2 or tls1.3';
        fail('http.tls.minimumtls', why);
      }
      config.minimumTls = version!;
      if (config.tls) config.tls.minimumtls = wanted;
    }
  }
  return config;
}
