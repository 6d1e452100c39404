// Reads a Distribution config.yml (or nothing at all), applies REGISTRY_* environment overrides,
// fills defaults and validates. Every problem names the key it is about.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { applyEnvOverrides, type RawConfig } from './env-overrides.js';
import type { HttpConfig, LogFormatter, LogLevel, RegateConfig, StorageConfig, StorageDriverName } from './config-types.js';

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

/** The configuration used when no file is given. */
export const DEFAULT_RAW_CONFIG: RawConfig = {
  version: '0.1',
  log: { level: 'info', formatter: 'text' },
  storage: { filesystem: { rootdirectory: './data' }, delete: { enabled: false } },
  http: { addr: '127.0.0.1:5000' },
};

const KNOWN_TOP = new Set(['version', 'log', 'loglevel', 'storage', 'http', 'auth', 'health', 'notifications', 'redis', 'middleware', 'reporting', 'proxy', 'compatibility', 'validation', 'policy', 'regate']);
const DRIVERS: readonly StorageDriverName[] = ['filesystem', 'inmemory', 'swift'];
const DISTRIBUTION_ONLY_DRIVERS = ['s3', 'azure', 'gcs', 'oss', 'swift-legacy'];
const STORAGE_SECTIONS = new Set(['delete', 'cache', 'maintenance', 'redirect']);
const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
const LOG_FORMATTERS: readonly LogFormatter[] = ['text', 'json', 'logstash'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): RegateConfig {
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
  return validateConfig(applyEnvOverrides(raw, env), source, process.cwd());
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

  const log = isObject(raw.log) ? raw.log : {};
  for (const key of Object.keys(log)) if (!['level', 'formatter', 'fields', 'accesslog', 'hooks', 'reportcaller'].includes(key)) warnings.push(`unknown key "log.${key}" ignored`);
  const level = String(log.level ?? raw.loglevel ?? 'info').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) fail('log.level', `must be one of ${LOG_LEVELS.join(', ')}`);
  const formatter = String(log.formatter ?? 'text').toLowerCase() as LogFormatter;
  if (!LOG_FORMATTERS.includes(formatter)) fail('log.formatter', `must be one of ${LOG_FORMATTERS.join(', ')}`);
  if (log.fields !== undefined && !isObject(log.fields)) fail('log.fields', 'must be a mapping');

  const storage = validateStorage(raw.storage, fail, baseDir);
  const http = validateHttp(raw.http, fail, baseDir);

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
    for (const key of Object.keys(a)) if (key !== 'htpasswd') fail(`auth.${key}`, 'is not supported (regate supports auth.htpasswd)');
  }

  const own = isObject(raw.regate) ? raw.regate : {};
  const manifestMaxBytes = nonNegativeInt(own.manifestmaxbytes ?? 4 * 1024 * 1024, 'regate.manifestmaxbytes', fail);
  if (manifestMaxBytes === 0) fail('regate.manifestmaxbytes', 'must be positive');
  const blobMaxBytes = nonNegativeInt(own.blobmaxbytes ?? 0, 'regate.blobmaxbytes', fail);

  const config: RegateConfig = {
    version,
    log: { level, formatter, fields: isObject(log.fields) ? log.fields : {} },
    storage,
    http,
    regate: { manifestMaxBytes, blobMaxBytes },
    source,
    warnings,
  };
  if (auth) config.auth = auth;
  if (isObject(raw.health)) config.health = raw.health;
  return config;
}

type Fail = (key: string, problem: string) => never;

function nonNegativeInt(value: unknown, key: string, fail: Fail): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail(key, 'must be a non-negative integer');
  return n as number;
}

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
    const root = parameters.rootdirectory ?? '/var/lib/registry';
    if (typeof root !== 'string' || root === '') fail('storage.filesystem.rootdirectory', 'must be a non-empty path');
    parameters.rootdirectory = resolve(baseDir, root as string);
  }
  if (driver === 'swift') {
    for (const key of ['authurl', 'username', 'password', 'container']) {
      if (typeof parameters[key] !== 'string' || parameters[key] === '') fail(`storage.swift.${key}`, 'is required');
    }
  }
  let deleteEnabled = false;
  if (value.delete !== undefined) {
    if (!isObject(value.delete)) fail('storage.delete', 'must be a mapping');
    const enabled = (value.delete as Record<string, unknown>).enabled;
    if (enabled !== undefined && typeof enabled !== 'boolean') fail('storage.delete.enabled', 'must be true or false');
    deleteEnabled = enabled === true;
  }
  const extra = Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'delete' && STORAGE_SECTIONS.has(k)));
  return { driver, parameters, deleteEnabled, extra };
}

function validateHttp(value: unknown, fail: Fail, baseDir: string): HttpConfig {
  const h = value === undefined ? {} : isObject(value) ? value : fail('http', 'must be a mapping');
  const addr = h.addr === undefined ? ':5000' : String(h.addr);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(addr);
  if (!m) fail('http.addr', `"${addr}" is not HOST:PORT`);
  const port = Number(m![3]);
  if (port > 65535) fail('http.addr', `port ${port} is out of range`);
  const host = m![1] ?? m![2] ?? '';
  const headers: Record<string, string[]> = {};
  if (h.headers !== undefined) {
    if (!isObject(h.headers)) fail('http.headers', 'must be a mapping of header name to list of values');
    for (const [name, v] of Object.entries(h.headers as Record<string, unknown>)) {
      const values = Array.isArray(v) ? v.map(String) : [String(v)];
      headers[name] = values;
    }
  }
  const config: HttpConfig = { addr, host, port, headers };
  if (typeof h.secret === 'string') config.secret = h.secret;
  if (h.tls !== undefined && h.tls !== null) {
    if (!isObject(h.tls)) fail('http.tls', 'must be a mapping');
    const t = h.tls as Record<string, unknown>;
    if (typeof t.certificate !== 'string' || typeof t.key !== 'string') fail('http.tls', 'needs both certificate and key');
    config.tls = { certificate: resolve(baseDir, t.certificate as string), key: resolve(baseDir, t.key as string) };
    if (typeof t.minimumtls === 'string') config.tls.minimumtls = t.minimumtls;
  }
  return config;
}
