// docs/configuration.md and the code hold each other: the reference's tables list exactly the keys
// of src/config/config-keys.ts (the list every validator takes its known keys from, so a key
// added to a validator without being documented fails here), once each; a default written in
// backticks is what regate uses when the key is absent (writing it out changes nothing); the
// Distribution keys it calls refused are refused and those of "no effect" get a notice; and what
// the intro says about misspelt keys holds section by section.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/processes.js';
import { parse as parseYaml } from 'yaml';
import { CONFIG_KEYS, configKey } from '../../src/config/config-keys.js';
import { DISTRIBUTION_KEY_RULES } from '../../src/config/distribution-keys.js';
import { ConfigError, validateConfig } from '../../src/config/load-config.js';
import type { RawConfig } from '../../src/config/env-overrides.js';

interface Row {
  key: string;
  section: string;
  /** The default cell as written. */
  cell: string;
  meaning: string;
  /** The default cell's YAML value when it is a backticked literal. */
  literal?: { value: unknown };
}

function readReference(): Row[] {
  const lines = readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8').split('\n');
  const rows: Row[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) section = line.slice(3).trim();
    if (line.trim() !== '| key | default | meaning |') continue;
    assert.match(lines[i + 1] ?? '', /^\|( *-+ *\|){3}$/, `line ${i + 2}: the table's separator`);
    for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
      const cells = lines[i]!.trim().slice(1, -1).split('|').map((c) => c.trim());
      assert.equal(cells.length, 3, `line ${i + 1}: a row has three cells (no "|" inside one): ${lines[i]}`);
      const [keyCell, cell, meaning] = cells as [string, string, string];
      const key = /^`([^`\s]+)`$/.exec(keyCell)?.[1];
      assert.ok(key, `line ${i + 1}: the key cell is one backticked path: ${keyCell}`);
      assert.ok(meaning !== '', `line ${i + 1}: ${key} has a meaning`);
      const literal = /^`([^`]*)`$/.exec(cell);
      if (!literal) assert.ok(!cell.includes('`') && cell !== '', `line ${i + 1}: ${key}: a default is one backticked YAML value or plain text: ${cell}`);
      rows.push({ key, section, cell, meaning, ...(literal ? { literal: { value: parseYaml(literal[1]!) } } : {}) });
    }
  }
  return rows;
}

const ROWS = readReference();
const ROW = new Map(ROWS.map((r) => [r.key, r]));

test('the reference lists every key of config-keys.ts, once, and no other', () => {
  const seen = new Set<string>();
  const twice = ROWS.filter((r) => (seen.has(r.key) ? true : (seen.add(r.key), false))).map((r) => r.key);
  assert.deepEqual(twice, [], 'keys in more than one row');
  const listed = new Set(CONFIG_KEYS.map((k) => k.path));
  assert.equal(listed.size, CONFIG_KEYS.length, 'config-keys.ts lists a path twice');
  assert.deepEqual([...listed].filter((k) => !seen.has(k)), [], 'keys regate knows that docs/configuration.md does not document');
  assert.deepEqual([...seen].filter((k) => !listed.has(k)), [], 'keys docs/configuration.md documents that config-keys.ts does not list');
});

test('each key is in the section its path names', () => {
  // Distribution's old top-level spelling of log.level sits with log.
  const elsewhere: Record<string, string> = { loglevel: 'log' };
  for (const row of ROWS) {
    if (row.section === 'Distribution keys regate does not act on' || elsewhere[row.key] === row.section) continue;
    const heads = row.section.split(' and ').map((s) => s.trim());
    assert.ok(heads.some((h) => row.key === h || row.key.startsWith(`${h}.`) || row.key.startsWith(`${h}[].`)), `${row.key} is under "## ${row.section}"`);
  }
});

test('refused and no-effect keys: the reference says what config-keys.ts says, and lists them all at the end', () => {
  for (const { path, treatment } of CONFIG_KEYS) {
    const row = ROW.get(path);
    if (!row) continue; // reported by the first test
    assert.equal(row.cell === 'refused', treatment === 'refused', `${path}: default cell "${row.cell}", treatment ${treatment}`);
    assert.equal(row.cell === 'no effect', treatment === 'notice', `${path}: default cell "${row.cell}", treatment ${treatment}`);
    assert.equal(row.meaning.startsWith('Accepted without effect or notice'), treatment === 'ignored', `${path}: treatment ${treatment}, meaning "${row.meaning}"`);
    const last = row.section === 'Distribution keys regate does not act on';
    assert.equal(last, treatment === 'refused' || treatment === 'notice', `${path} is in "## ${row.section}"`);
  }
  // distribution-keys.ts answers only keys the list knows; a refusing rule is a refused key.
  for (const { path, refused } of DISTRIBUTION_KEY_RULES) {
    const key = configKey(path);
    assert.ok(key, `distribution-keys.ts answers ${path}, which config-keys.ts does not list`);
    if (refused) assert.equal(key.treatment, 'refused', path);
    else assert.ok(key.treatment === 'notice' || key.treatment === 'honoured', `${path}: a notice rule on a ${key.treatment} key`);
  }
});

const V = { version: '0.1' };
const MINIMAL: RawConfig = { ...V, storage: { inmemory: {} } };
const SWIFT: RawConfig = { ...V, storage: { swift: { authurl: 'http://127.0.0.1:7480/auth/v1', username: 'u', password: 'p', container: 'c' } } };
const REDIS: RawConfig = { ...V, storage: { inmemory: {}, cache: { blobdescriptor: 'redis' } }, redis: { addr: '127.0.0.1:6379' } };
const NOTIFY: RawConfig = { ...MINIMAL, notifications: { endpoints: [{ name: 'ci', url: 'http://127.0.0.1:1/hook' }] } };
const UPSTREAM: RawConfig = { ...V, regate: { upstream: { url: 'http://127.0.0.1:5001' } } };
const MIRRORS: RawConfig = { ...MINIMAL, regate: { mirrors: [{ name: 'docker.io', url: 'https://registry-1.docker.io' }] } };
const PROXY: RawConfig = { ...MINIMAL, proxy: { remoteurl: 'https://registry-1.docker.io' } };
const access = (rule: Record<string, unknown>): RawConfig => ({
  ...MINIMAL,
  auth: { htpasswd: { path: 'htpasswd' } },
  regate: { access: { groupsfile: 'groups', rules: [{ ...rule, repositories: ['**'], actions: ['pull'] }] } },
});

/** A valid config in which `key` takes effect (and is absent). */
function baseFor(key: string): RawConfig {
  if (key.startsWith('storage.swift.')) return SWIFT;
  if (key.startsWith('storage.filesystem.')) return { ...V, storage: { filesystem: {} } };
  if (key.startsWith('storage.cache.')) return { ...V, storage: { inmemory: {}, cache: { blobdescriptor: 'inmemory' } } };
  if (key.startsWith('redis.')) return REDIS;
  if (key.startsWith('auth.htpasswd.')) return { ...MINIMAL, auth: { htpasswd: { path: 'htpasswd' } } };
  if (key.startsWith('http.debug.')) return { ...MINIMAL, http: { debug: { addr: '127.0.0.1:5001' } } };
  if (key.startsWith('health.storagedriver.') && key !== 'health.storagedriver.enabled') return { ...MINIMAL, health: { storagedriver: { enabled: true } } };
  if (key.startsWith('notifications.')) return NOTIFY;
  if (key.startsWith('regate.upstream.')) return UPSTREAM;
  if (key.startsWith('regate.mirrors[].')) return MIRRORS;
  if (key.startsWith('proxy.')) return PROXY;
  if (key.startsWith('regate.access.')) return access(key.endsWith('.users') ? { groups: ['team'] } : { users: ['ci'] });
  // Distribution's other drivers are refused only when they are the one driver named.
  if (/^storage\.[^.]+$/.test(key) && configKey(key)?.treatment === 'refused') return { ...V };
  return MINIMAL;
}

/** Follows a path (`[]` is a list's first item); `create` builds what is missing. */
function walk(root: Record<string, unknown>, segments: string[], create: boolean): Record<string, unknown> | undefined {
  let node: Record<string, unknown> = root;
  for (const segment of segments) {
    const name = segment.replace(/\[\]$/, '');
    if (segment.endsWith('[]')) {
      if (!Array.isArray(node[name]) || (node[name] as unknown[]).length === 0) {
        if (!create) return undefined;
        node[name] = [{}];
      }
      node = (node[name] as Record<string, unknown>[])[0]!;
    } else {
      if (typeof node[name] !== 'object' || node[name] === null) {
        if (!create) return undefined;
        node[name] = {};
      }
      node = node[name] as Record<string, unknown>;
    }
  }
  return node;
}

function has(raw: RawConfig, key: string): boolean {
  const segments = key.split('.');
  const parent = walk(raw, segments.slice(0, -1), false);
  return parent !== undefined && segments.at(-1)! in parent;
}

function withKey(base: RawConfig, key: string, value: unknown): RawConfig {
  const raw = structuredClone(base);
  const segments = key.split('.');
  walk(raw, segments.slice(0, -1), true)![segments.at(-1)!] = value;
  return raw;
}

/**
 * Where the effective config carries a section as written, for `config check`'s printout (nothing
 * else reads these copies): storage.swift's parameters (storage.swift holds the values used),
 * storage.cache and storage.maintenance (in storage.extra), health. The key's own copy there is
 * not an effect; `keep` is how many leading segments stay even when emptied.
 */
function echoOf(key: string): { path: string[]; keep: number } | undefined {
  const s = key.split('.');
  if (s[0] === 'storage' && s[1] === 'swift') return { path: ['storage', 'parameters', ...s.slice(2)], keep: 2 };
  if (s[0] === 'storage' && (s[1] === 'cache' || s[1] === 'maintenance')) return { path: ['storage', 'extra', ...s.slice(1)], keep: 2 };
  if (s[0] === 'health') return { path: s, keep: 0 };
  return undefined;
}

function effective(raw: RawConfig, key: string): { config: Record<string, unknown>; warnings: string[] } {
  const { warnings, source: _source, ...config } = validateConfig(raw, 't.yml', '/srv/regate');
  const copy = structuredClone(config) as Record<string, unknown>;
  const echo = echoOf(key);
  if (echo) {
    const chain: Record<string, unknown>[] = [copy];
    for (const segment of echo.path.slice(0, -1)) {
      const next = chain.at(-1)![segment];
      if (typeof next !== 'object' || next === null) break;
      chain.push(next as Record<string, unknown>);
    }
    if (chain.length === echo.path.length) delete chain.at(-1)![echo.path.at(-1)!];
    for (let i = chain.length - 1; i > echo.keep; i--) {
      if (Object.keys(chain[i]!).length === 0) delete chain[i - 1]![echo.path[i - 1]!];
    }
  }
  return { config: copy, warnings };
}

/** Keys whose backticked default cannot be checked by writing it out, and why. */
const NOT_CHECKED: Record<string, string> = {
  'storage.swift.tempurlmethods': 'absent is kept as [] and the Swift driver then signs for GET; [GET] written out is kept as written (same redirects, another effective config)',
};

test('a backticked default written into a config changes nothing', () => {
  for (const key of Object.keys(NOT_CHECKED)) assert.ok(ROW.get(key)?.literal, `${key} is listed as not checked but has no backticked default`);
  const checked = ROWS.filter((r) => r.literal && !(r.key in NOT_CHECKED));
  assert.ok(checked.length > 60, `${checked.length} defaults checked`);
  for (const { key, literal } of checked) {
    const base = baseFor(key);
    assert.ok(!has(base, key), `${key}: the base config must not set it`);
    const without = effective(base, key);
    const written = (() => {
      try {
        return effective(withKey(base, key, literal!.value), key);
      } catch (err) {
        throw new assert.AssertionError({ message: `${key}: ${JSON.stringify(literal!.value)} is refused: ${(err as Error).message}` });
      }
    })();
    assert.deepEqual(written.config, without.config, `${key}: ${JSON.stringify(literal!.value)} is not what regate uses without it`);
    assert.ok(!written.warnings.some((w) => /unknown/.test(w)), `${key}: ${JSON.stringify(written.warnings)}`);
    assert.deepEqual(written.warnings, without.warnings, `${key}: written out, it adds a notice`);
  }
});

test('regate.gc.listinglag: 60s with storage.swift, 0s otherwise (as its default cell says)', () => {
  assert.equal(ROW.get('regate.gc.listinglag')!.cell, '60s with storage.swift, 0s otherwise');
  assert.equal(validateConfig(SWIFT, 't', '/').regate.gc.listingLagMs, 60_000);
  assert.equal(validateConfig(MINIMAL, 't', '/').regate.gc.listingLagMs, 0);
  assert.equal(validateConfig({ ...V, storage: { filesystem: {} } }, 't', '/').regate.gc.listingLagMs, 0);
});

/** A value that says something, for keys a bare mapping would not trip. */
const SAMPLE: Record<string, unknown> = {
  'http.net': 'unix',
  'http.prefix': '/registry/',
  'compatibility.schema1.enabled': true,
  middleware: { registry: [{ name: 'redirect' }] },
  'http.tls.clientcas': ['/certs/ca.pem'],
};

test('the keys the reference calls refused are refused, by path; the "no effect" ones get a notice', () => {
  const refused = ROWS.filter((r) => r.cell === 'refused');
  const noEffect = ROWS.filter((r) => r.cell === 'no effect');
  assert.ok(refused.length > 10 && noEffect.length > 5);
  for (const { key } of refused) {
    const raw = withKey(baseFor(key), key, SAMPLE[key] ?? { example: 1 });
    assert.throws(() => validateConfig(raw, 't.yml', '/'), (e: unknown) => e instanceof ConfigError && e.key === key, key);
  }
  for (const { key } of noEffect) {
    const c = validateConfig(withKey(baseFor(key), key, SAMPLE[key] ?? { example: 1 }), 't.yml', '/');
    assert.ok(c.warnings.some((w) => w.startsWith(`${key}: no effect`)), `${key}: ${JSON.stringify(c.warnings)}`);
  }
});

// What the reference's intro says a misspelt key gets, section by section.
const MISSPELT: Record<string, ['notice' | 'refused', RawConfig]> = {
  '': ['notice', MINIMAL],
  log: ['notice', MINIMAL],
  http: ['notice', MINIMAL],
  'http.tls': ['notice', MINIMAL],
  regate: ['notice', MINIMAL],
  'regate.tls': ['notice', MINIMAL],
  'regate.http': ['notice', MINIMAL],
  'regate.auth': ['notice', MINIMAL],
  'regate.gc': ['notice', MINIMAL],
  'regate.ui': ['notice', MINIMAL],
  storage: ['refused', MINIMAL],
  'storage.filesystem': ['refused', { ...V, storage: { filesystem: {} } }],
  'storage.swift': ['refused', SWIFT],
  'storage.redirect': ['refused', MINIMAL],
  'storage.cache': ['refused', MINIMAL],
  redis: ['refused', REDIS],
  'redis.pool': ['refused', REDIS],
  'redis.tls': ['refused', REDIS],
  'http.debug': ['refused', MINIMAL],
  'http.debug.prometheus': ['refused', MINIMAL],
  auth: ['refused', MINIMAL],
  'health.storagedriver': ['refused', MINIMAL],
  notifications: ['refused', MINIMAL],
  'notifications.events': ['refused', MINIMAL],
  'notifications.endpoints[]': ['refused', NOTIFY],
  'notifications.endpoints[].ignore': ['refused', NOTIFY],
  'regate.upstream': ['refused', UPSTREAM],
  'regate.access': ['refused', access({ users: ['ci'] })],
  'regate.access.rules[]': ['refused', access({ users: ['ci'] })],
  'storage.inmemory': ['notice', MINIMAL],
  'storage.delete': ['notice', MINIMAL],
  'storage.maintenance': ['notice', MINIMAL],
  'storage.maintenance.readonly': ['notice', MINIMAL],
  'storage.maintenance.uploadpurging': ['notice', MINIMAL],
  'log.accesslog': ['notice', MINIMAL],
  'auth.htpasswd': ['notice', { ...MINIMAL, auth: { htpasswd: { path: 'htpasswd' } } }],
  health: ['notice', MINIMAL],
  compatibility: ['notice', MINIMAL],
  'compatibility.schema1': ['notice', MINIMAL],
  validation: ['notice', MINIMAL],
  proxy: ['refused', PROXY],
  'regate.mirrors[]': ['refused', MIRRORS],
};

test('a misspelt key: a notice, a refusal or nothing, as the reference\'s intro says for its section', () => {
  // Every section of the list is answered for (a new section needs a line here).
  const sections = new Set(CONFIG_KEYS.flatMap(({ path }) => path.split('.').slice(0, -1).map((_, i, s) => s.slice(0, i + 1).join('.'))));
  sections.add('');
  assert.deepEqual([...sections].filter((s) => !(s in MISSPELT)).sort(), [], 'sections without an expectation');
  const intro = readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
  const WRONG = 'zzmisspelt';
  for (const [section, [expected, base]] of Object.entries(MISSPELT)) {
    const key = section === '' ? WRONG : `${section}.${WRONG}`;
    const raw = withKey(base, key, 1);
    if (expected === 'refused') {
      assert.throws(() => validateConfig(raw, 't.yml', '/'), (e: unknown) => e instanceof ConfigError && e.message.includes(WRONG), key);
      continue;
    }
    const c = validateConfig(raw, 't.yml', '/');
    const named = c.warnings.filter((w) => w.includes(`"${key.replace(/\[\]/g, '')}"`) && w.endsWith('ignored'));
    assert.equal(named.length, expected === 'notice' ? 1 : 0, `${key}: ${JSON.stringify(c.warnings)}`);
    // The intro names each section (the top level aside).
    if (section !== '' && !section.includes('.')) assert.ok(intro.includes(`\`${section}\``), `the intro names ${section}`);
  }
});
