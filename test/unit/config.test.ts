import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, validateConfig } from '../../src/config/load-config.js';
import { applyEnvOverrides } from '../../src/config/env-overrides.js';

const here = dirname(fileURLToPath(import.meta.url));
// dist/test/unit → test/fixtures/seeds (copies of the seeds' configs: a bare clone must pass).
const seeds = resolve(here, '../../../test/fixtures/seeds');

test('no file: embedded defaults (filesystem under ./data; secure by default: TLS + auth on :5000)', () => {
  const c = loadConfig(undefined, {});
  assert.equal(c.storage!.driver, 'filesystem');
  assert.equal(c.storage!.parameters.rootdirectory, resolve(process.cwd(), 'data'));
  assert.equal(c.storage!.deleteEnabled, false);
  assert.equal(c.log.level, 'info');
  assert.equal(c.regate.manifestMaxBytes, 4 * 1024 * 1024);
  assert.equal(c.http.addr, ':5000');
  assert.equal(c.http.host, '');
  assert.equal(c.http.port, 5000);
  assert.equal(c.http.tls, undefined);
  assert.equal(c.http.minimumTls, 'TLSv1.2');
  assert.equal(c.regate.tls.mode, 'generated');
  assert.equal(c.regate.tls.dir, resolve(process.cwd(), 'certs'));
  assert.deepEqual(c.auth, { htpasswd: { realm: 'regate', path: resolve(process.cwd(), 'htpasswd/htpasswd') } });
  assert.deepEqual(c.regate.pingPaths, ['/_ping', '/v1/_ping', '/']);
  assert.deepEqual(c.regate.http, { headersTimeoutMs: 60_000, keepAliveTimeoutMs: 30_000, idleTimeoutMs: 300_000, trustedProxies: [] });
  assert.deepEqual(c.regate.auth, { maxFailures: 10, failureWindowMs: 60_000 });
  assert.deepEqual(c.warnings, []);
});

test('a Distribution config is read as Distribution reads it: no http.tls → plain HTTP, no auth → none', () => {
  const c = validateConfig({ version: '0.1', storage: { inmemory: {} } }, 'test.yml', '/');
  assert.equal(c.regate.tls.mode, 'off');
  assert.equal(c.auth, undefined);
  // An empty tls section (or one with only minimumtls) is still no TLS for Distribution …
  assert.equal(validateConfig({ version: '0.1', storage: { inmemory: {} }, http: { tls: { minimumtls: 'tls1.3' } } }, 't', '/').regate.tls.mode, 'off');
  // … unless regate is asked to generate the certificate.
  const generated = validateConfig(
    { version: '0.1', storage: { inmemory: {} }, http: { tls: { minimumtls: 'tls1.3' } }, regate: { tls: { generate: true, dir: 'c', hosts: ['reg.example'] } } },
    't',
    '/base',
  );
  assert.equal(generated.regate.tls.mode, 'generated');
  assert.equal(generated.http.minimumTls, 'TLSv1.3');
  assert.equal(generated.regate.tls.dir, '/base/c');
  assert.deepEqual(generated.regate.tls.hosts, ['reg.example']);
});

test('durations (Go style) for the gateway timeouts', () => {
  const c = validateConfig(
    { version: '0.1', storage: { inmemory: {} }, regate: { http: { headerstimeout: '1m30s', keepalivetimeout: '500ms', idletimeout: '0' }, auth: { failurewindow: '2h' } } },
    't',
    '/',
  );
  assert.deepEqual(c.regate.http, { headersTimeoutMs: 90_000, keepAliveTimeoutMs: 500, idleTimeoutMs: 0, trustedProxies: [] });
  assert.equal(c.regate.auth.failureWindowMs, 7_200_000);
});

for (const [file, check] of [
  ['001-ceph-swift-config.yml', (c: ReturnType<typeof loadConfig>) => {
    assert.equal(c.storage!.driver, 'swift');
    assert.equal(c.storage!.parameters.username, 'demo:swift');
    assert.equal(c.storage!.swift?.authUrl, 'http://172.16.6.81:7480/auth/v1');
    assert.equal(c.storage!.swift?.username, 'demo:swift');
    assert.equal(c.storage!.swift?.container, 'registry');
    assert.equal(c.storage!.swift?.chunkSize, 20 * 1024 * 1024);
    assert.equal(c.http.port, 5000);
    assert.equal(c.http.host, '0.0.0.0');
    assert.deepEqual(c.http.headers, { 'X-Content-Type-Options': ['nosniff'] });
    assert.deepEqual(c.log.fields, { service: 'registry' });
  }],
  ['002-openstack-swift-keystone-config.yml', (c: ReturnType<typeof loadConfig>) => {
    assert.equal(c.storage!.parameters.tenant, 'admin');
    assert.equal(c.storage!.swift?.tenant, 'admin');
    assert.equal(c.storage!.swift?.authUrl, 'http://10.0.10.216:5000/v2.0');
    assert.equal(c.storage!.swift?.container, 'docker_registry');
    assert.equal(c.http.host, '');
    assert.equal(c.http.port, 5000);
  }],
  ['003-tls-htpasswd-ceph-config.yml', (c: ReturnType<typeof loadConfig>) => {
    assert.equal(c.storage!.deleteEnabled, true);
    assert.equal(c.regate.tls.mode, 'files');
    assert.deepEqual(c.auth, { htpasswd: { realm: 'basic-realm', path: '/auth/htpasswd' } });
    assert.equal(c.http.tls?.certificate, '/certs/registry.pem');
    assert.equal(c.http.port, 8000);
    assert.deepEqual(c.storage!.extra, { cache: { blobdescriptor: 'inmemory' } });
    // The seed misspells log.formatter as "fromatter"; Distribution ignores it, so does regate (with a warning).
    assert.ok(c.warnings.some((w) => w.includes('log.fromatter')));
  }],
] as const) {
  test(`seed config ${file} loads as written`, () => check(loadConfig(join(seeds, file), {})));
}

test('environment overrides, Distribution style', () => {
  const raw = { version: '0.1', storage: { filesystem: { rootdirectory: '/a' } }, http: { addr: ':5000' } };
  const out = applyEnvOverrides(raw, {
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/b',
    REGISTRY_STORAGE_DELETE_ENABLED: 'true',
    REGISTRY_HTTP_ADDR: '127.0.0.1:6000',
    REGISTRY_LOG_LEVEL: 'debug',
    OTHER: 'x',
  });
  assert.deepEqual(out, {
    version: '0.1',
    storage: { filesystem: { rootdirectory: '/b' }, delete: { enabled: true } },
    http: { addr: '127.0.0.1:6000' },
    log: { level: 'debug' },
  });
  assert.equal(raw.storage.filesystem.rootdirectory, '/a', 'the input is not modified');
  const swapped = applyEnvOverrides({ storage: { filesystem: {}, delete: { enabled: true } } }, { REGISTRY_STORAGE: 'inmemory' });
  assert.deepEqual(swapped, { storage: { inmemory: {}, delete: { enabled: true } } });
});

test('env overrides apply to a loaded file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'regate-config-'));
  try {
    const file = join(dir, 'config.yml');
    writeFileSync(file, 'version: 0.1\nstorage:\n  inmemory: {}\nhttp:\n  addr: 127.0.0.1:0\n');
    const c = loadConfig(file, { REGISTRY_STORAGE_DELETE_ENABLED: 'true' });
    assert.equal(c.storage!.driver, 'inmemory');
    assert.equal(c.storage!.deleteEnabled, true);
    assert.equal(c.http.port, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('storage.redirect.disable: redirects are on unless disabled (they need a driver that offers them)', () => {
  assert.equal(validateConfig({ version: '0.1', storage: { inmemory: {} } }, 't', '/').storage!.redirect, true);
  assert.equal(validateConfig({ version: '0.1', storage: { inmemory: {}, redirect: { disable: true } } }, 't', '/').storage!.redirect, false);
  assert.equal(validateConfig({ version: '0.1', storage: { inmemory: {}, redirect: { disable: false } } }, 't', '/').storage!.redirect, true);
});

test('regate.upstream: upstream mode needs no storage section; defaults (900 s idle, 128 connections, Authorization stripped)', () => {
  const c = validateConfig({ version: '0.1', regate: { upstream: { url: 'http://127.0.0.1:5001' } } }, 't', '/');
  assert.equal(c.storage, undefined);
  assert.deepEqual(c.upstream, { url: 'http://127.0.0.1:5001', passAuthorization: false, idleTimeoutMs: 900_000, maxSockets: 128, insecureSkipVerify: false });
  const own = validateConfig({ version: '0.1', regate: { upstream: { url: 'https://reg.example:443/', username: 'gw', password: 'pw', idletimeout: '30s', maxconnections: 8 } } }, 't', '/');
  assert.deepEqual(own.upstream, { url: 'https://reg.example', passAuthorization: false, credentials: { username: 'gw', password: 'pw' }, idleTimeoutMs: 30_000, maxSockets: 8, insecureSkipVerify: false });
});

test('proxy keeps Distribution\'s meaning: one upstream for every name, pull-only; regate.mirrors holds many, each known key checked', () => {
  const base = { version: '0.1', storage: { inmemory: {} } };
  const proxy = validateConfig({ ...base, proxy: { remoteurl: 'https://registry-1.docker.io', username: 'u', password: 'p', ttl: '24h' } }, 't', '/');
  assert.equal(proxy.mirrors?.pullOnly, true);
  assert.deepEqual(proxy.mirrors?.mirrors.map((m) => [m.name, m.urls, m.credentials, m.ttlMs, m.default]), [['docker.io', ['https://registry-1.docker.io'], { username: 'u', password: 'p' }, 86_400_000, true]]);
  assert.throws(() => validateConfig({ ...base, proxy: { remoteurl: 'https://r.example', exec: 'x' } }, 't', '/'), (e: unknown) => e instanceof ConfigError && e.key === 'proxy.exec');

  const many = validateConfig({ ...base, regate: { mirrors: [
    { name: 'docker.io', url: 'https://registry-1.docker.io', default: true, tagttl: '1m' },
    { name: 'ghcr.io', url: 'https://ghcr.io/', username: 'bot', password: 'secret', ttl: '0s' },
  ] } }, 't', '/');
  assert.equal(many.mirrors?.pullOnly, false);
  assert.deepEqual(many.mirrors?.mirrors.map((m) => [m.name, m.urls[0], m.tagTtlMs, m.ttlMs, m.default, m.credentials?.username]), [
    ['docker.io', 'https://registry-1.docker.io', 60_000, 604_800_000, true, undefined],
    ['ghcr.io', 'https://ghcr.io', 300_000, 0, false, 'bot'],
  ]);
  const refusedAt = (mirrors: unknown): string | undefined => {
    try {
      validateConfig({ ...base, regate: { mirrors } }, 't', '/');
      return undefined;
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.ok(!e.message.includes('s3cret'), 'no value echoed');
      return e.key;
    }
  };
  assert.equal(refusedAt([{ name: 'docker.io', url: 'https://a.example', pasword: 's3cret' }]), 'regate.mirrors[0].pasword');
  assert.equal(refusedAt([{ name: 'Docker.IO', url: 'https://a.example' }]), 'regate.mirrors[0].name');
  assert.equal(refusedAt([{ name: 'a.io', url: 'https://u:s3cret@a.example' }]), 'regate.mirrors[0].url');
  assert.equal(refusedAt([{ name: 'a.io', url: 'https://a.example/v2' }]), 'regate.mirrors[0].url');
  assert.equal(refusedAt([{ name: 'a.io', url: 'https://a.example', username: 'u' }]), 'regate.mirrors[0].password');
  assert.equal(refusedAt([{ name: 'a.io', url: 'https://a.example' }, { name: 'a.io', url: 'https://b.example' }]), 'regate.mirrors[1].name');
  assert.equal(refusedAt([{ name: 'a.io', url: 'https://a.example', default: true }, { name: 'b.io', url: 'https://b.example', default: true }]), 'regate.mirrors');
  assert.equal(refusedAt([]), 'regate.mirrors');
  assert.throws(() => validateConfig({ version: '0.1', regate: { upstream: { url: 'http://127.0.0.1:1' }, mirrors: [{ name: 'a.io', url: 'https://a.example' }] } }, 't', '/'), (e: unknown) => e instanceof ConfigError && e.key === 'regate.mirrors');
});

test('Distribution keys regate does not act on: refused when relying on them would silently change behaviour', () => {
  const base = { version: '0.1', storage: { inmemory: {} } };
  const refused: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ middleware: { storage: [{ name: 'cloudfront' }] } }, 'middleware', /not supported/],
    [{ reporting: { bugsnag: { apikey: 'k' } } }, 'reporting', /bugsnag/],
    [{ policy: { repository: { classes: ['image'] } } }, 'policy', /not supported/],
    [{ validation: { manifests: { urls: { allow: ['^https://'] } } } }, 'validation.manifests', /foreign-layer/],
    [{ compatibility: { schema1: { enabled: true } } }, 'compatibility.schema1.enabled', /schema1/],
    [{ http: { addr: ':5000', prefix: '/registry' } }, 'http.prefix', /\/v2\//],
    [{ http: { addr: ':5000', net: 'unix' } }, 'http.net', /tcp/],
    [{ health: { http: [{ uri: 'http://x' }] } }, 'health.http', /other services/],
    [{ log: { hooks: [{ type: 'mail' }] } }, 'log.hooks', /mail/],
  ];
  for (const [extra, key, why] of refused) {
    assert.throws(
      () => validateConfig({ ...base, ...extra }, 't.yml', '/'),
      (e: unknown) => e instanceof ConfigError && e.key === key && why.test(e.message) && !e.message.includes('registry-1.docker.io'),
      key,
    );
  }
});

test('http.debug (Distribution\'s keys): the debug listener, Prometheus at /metrics unless another path is given', () => {
  const base = { version: '0.1', storage: { inmemory: {} } };
  const plain = validateConfig({ ...base, http: { addr: ':5000', debug: { addr: ':5001' } } }, 't', '/');
  assert.deepEqual(plain.http.debug, { addr: ':5001', host: '', port: 5001, prometheus: { enabled: false, path: '/metrics' } });
  assert.deepEqual(plain.warnings, []);
  const metrics = validateConfig({ ...base, http: { addr: ':5000', debug: { addr: '127.0.0.1:5001', prometheus: { enabled: true, path: '/prom' } } } }, 't', '/');
  assert.deepEqual(metrics.http.debug, { addr: '127.0.0.1:5001', host: '127.0.0.1', port: 5001, prometheus: { enabled: true, path: '/prom' } });
  const v6 = validateConfig({ ...base, http: { debug: { addr: '[::1]:0', prometheus: { enabled: true } } } }, 't', '/');
  assert.deepEqual(v6.http.debug, { addr: '[::1]:0', host: '::1', port: 0, prometheus: { enabled: true, path: '/metrics' } });
  // No addr and nothing asked of it: no debug listener, as Distribution.
  assert.equal(validateConfig({ ...base, http: { debug: {} } }, 't', '/').http.debug, undefined);
  assert.equal(validateConfig({ ...base, http: { debug: { addr: '', prometheus: { enabled: false } } } }, 't', '/').http.debug, undefined);
  // Environment overrides reach it like any other key.
  const env = validateConfig(applyEnvOverrides(base, { REGISTRY_HTTP_DEBUG_ADDR: '127.0.0.1:0', REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED: 'true' }), 't', '/');
  assert.deepEqual(env.http.debug, { addr: '127.0.0.1:0', host: '127.0.0.1', port: 0, prometheus: { enabled: true, path: '/metrics' } });
});

test('http.debug: a misspelled or malformed key is refused, naming it', () => {
  const base = { version: '0.1', storage: { inmemory: {} } };
  const refused: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ adress: ':5001' }, 'http.debug.adress', /not a known key \(addr, prometheus\)/],
    [{ addr: ':5001', prometheus: { enable: true } }, 'http.debug.prometheus.enable', /not a known key \(enabled, path\)/],
    [{ addr: ':5001', prometheus: { enabled: 'yes' } }, 'http.debug.prometheus.enabled', /true or false/],
    [{ addr: ':5001', prometheus: { enabled: true, path: 'metrics' } }, 'http.debug.prometheus.path', /starting with \//],
    [{ addr: ':5001', prometheus: { enabled: true, path: '/debug/health' } }, 'http.debug.prometheus.path', /health endpoint/],
    [{ addr: ':5001', prometheus: true }, 'http.debug.prometheus', /mapping/],
    [{ prometheus: { enabled: true } }, 'http.debug.addr', /required/],
    [{ addr: '5001' }, 'http.debug.addr', /HOST:PORT/],
    [{ addr: ':70000' }, 'http.debug.addr', /out of range/],
    [{ addr: ':5000' }, 'http.debug.addr', /main listener/],
  ];
  for (const [debug, key, why] of refused) {
    assert.throws(
      () => validateConfig({ ...base, http: { addr: ':5000', debug } }, 't.yml', '/'),
      (e: unknown) => e instanceof ConfigError && e.key === key && why.test(e.message),
      `${key}: ${JSON.stringify(debug)}`,
    );
  }
  assert.throws(() => validateConfig({ ...base, http: { debug: ':5001' } }, 't', '/'), (e: unknown) => e instanceof ConfigError && e.key === 'http.debug');
});

test('Distribution keys with no effect on regate: accepted with a one-line notice', () => {
  const c = validateConfig(
    {
      version: '0.1',
      storage: { inmemory: {}, cache: { blobdescriptor: 'inmemory' } },
      http: { addr: ':5000', secret: 's3cr3t', host: 'https://reg.example', relativeurls: true, http2: { disabled: true } },
      redis: { addr: 'localhost:6379' },
      notifications: { endpoints: [{ name: 'off', url: 'http://x', disabled: true }] },
      validation: { disabled: true },
      compatibility: { schema1: { signingkeyfile: '/k' } },
      http_unknown: 1,
    },
    't.yml',
    '/',
  );
  assert.deepEqual(c.storage?.cache, { blobDescriptor: 'inmemory', size: 10_000 });
  for (const start of ['http.secret:', 'http.host:', 'http.relativeurls:', 'http.http2:', 'redis:', 'notifications:', 'validation.disabled:', 'compatibility.schema1.signingkeyfile:']) {
    assert.equal(c.warnings.filter((w) => w.startsWith(start)).length, 1, `${start} in ${JSON.stringify(c.warnings)}`);
  }
  assert.ok(c.warnings.some((w) => w.includes('"http_unknown"')));
  assert.ok(!c.warnings.join('\n').includes('s3cr3t'));
  assert.ok(!c.warnings.some((w) => w.startsWith('unknown key "http.')), 'Distribution\'s own http keys are known');
});

test('a misspelled http key is named in a notice (Distribution ignores it silently)', () => {
  const c = validateConfig({ version: '0.1', storage: { inmemory: {} }, http: { adress: '127.0.0.1:5001', header: { X: ['y'] } } }, 't.yml', '/');
  assert.ok(c.warnings.includes('unknown key "http.adress" ignored'), JSON.stringify(c.warnings));
  assert.ok(c.warnings.includes('unknown key "http.header" ignored'), JSON.stringify(c.warnings));
  assert.equal(c.http.addr, ':5000', 'the listener stays where it would have been');
});

const bad: Array<[object, string]> = [
  [{ version: '0.1', storage: { inmemory: {} }, regate: { upstream: { url: 'http://u:5000' } } }, 'storage'],
  [{ version: '0.1', regate: { upstream: {} } }, 'regate.upstream.url'],
  [{ version: '0.1', regate: { upstream: { url: 'ftp://u' } } }, 'regate.upstream.url'],
  [{ version: '0.1', regate: { upstream: { url: 'http://u:5000/v2/' } } }, 'regate.upstream.url'],
  [{ version: '0.1', regate: { upstream: { url: 'http://a:b@u:5000' } } }, 'regate.upstream.url'],
  [{ version: '0.1', regate: { upstream: { url: 'http://u', username: 'gw' } } }, 'regate.upstream.password'],
  [{ version: '0.1', regate: { upstream: { url: 'http://u', username: 'gw', password: 'p', passauthorization: true } } }, 'regate.upstream.passauthorization'],
  [{ version: '0.1', regate: { upstream: { url: 'http://u', idletimeout: 900 } } }, 'regate.upstream.idletimeout'],
  [{ version: '0.1', regate: { upstream: { url: 'http://u', remoteurl: 'x' } } }, 'regate.upstream.remoteurl'],
  [{ storage: { inmemory: {} } }, 'version'],
  [{ version: '0.2', storage: { inmemory: {} } }, 'version'],
  [{ version: '0.1' }, 'storage'],
  [{ version: '0.1', storage: { s3: {} } }, 'storage.s3'],
  [{ version: '0.1', storage: { inmemory: {}, filesystem: {} } }, 'storage'],
  [{ version: '0.1', storage: { swift: { authurl: 'http://x', container: 'c' } } }, 'storage.swift.username'],
  [{ version: '0.1', storage: { swift: { authurl: 'http://x', username: 'u', container: 'c' } } }, 'storage.swift.password'],
  [{ version: '0.1', storage: { swift: { authurl: 'http://x', username: 'u', password: 'p' } } }, 'storage.swift.container'],
  [{ version: '0.1', storage: { swift: { username: 'u', password: 'p', container: 'c' } } }, 'storage.swift.authurl'],
  [{ version: '0.1', storage: { swift: { authurl: 'ftp://x', username: 'u', password: 'p', container: 'c' } } }, 'storage.swift.authurl'],
  [{ version: '0.1', storage: { swift: { authurl: 'http://x', username: 'u', password: 'p', container: 'c', rootdirectory: '/r' } } }, 'storage.swift.rootdirectory'],
  [{ version: '0.1', storage: { swift: { authurl: 'http://x', username: 'u', password: 'p', container: 'c', chunksize: 1000 } } }, 'storage.swift.chunksize'],
  [{ version: '0.1', storage: { swift: { authurl: 'http://x', username: 'u', password: 'p', container: 'c', authversion: 4 } } }, 'storage.swift.authversion'],
  [{ version: '0.1', storage: { swift: { authurl: 'http://x', username: 'u', password: 'p', container: 'c', endpointtype: 'private' } } }, 'storage.swift.endpointtype'],
  [{ version: '0.1', storage: { swift: { authurl: 'http://x', username: 'u', password: 'p', container: 'c', insecureskipverify: 'yes' } } }, 'storage.swift.insecureskipverify'],
  [{ version: '0.1', storage: { inmemory: {}, delete: { enabled: 'yes' } } }, 'storage.delete.enabled'],
  [{ version: '0.1', storage: { inmemory: {}, redirect: { disable: 'yes' } } }, 'storage.redirect.disable'],
  [{ version: '0.1', storage: { inmemory: {}, redirect: { disabled: true } } }, 'storage.redirect.disabled'],
  [{ version: '0.1', storage: { inmemory: {} }, http: { addr: 'nonsense' } }, 'http.addr'],
  [{ version: '0.1', storage: { inmemory: {} }, http: { addr: ':70000' } }, 'http.addr'],
  [{ version: '0.1', storage: { inmemory: {} }, log: { level: 'loud' } }, 'log.level'],
  [{ version: '0.1', storage: { inmemory: {} }, auth: { htpasswd: { realm: 'r' } } }, 'auth.htpasswd.path'],
  [{ version: '0.1', storage: { inmemory: {} }, auth: { token: {} } }, 'auth.token'],
  [{ version: '0.1', storage: { inmemory: {} }, http: { tls: { certificate: '/c' } } }, 'http.tls'],
  [{ version: '0.1', storage: { inmemory: {} }, regate: { manifestmaxbytes: -1 } }, 'regate.manifestmaxbytes'],
  [{ version: '0.1', storage: { inmemory: {} }, http: { tls: { key: '/k' } } }, 'http.tls'],
  [{ version: '0.1', storage: { inmemory: {} }, http: { tls: { certificate: '/c', key: '/k', minimumtls: 'tls1.1' } } }, 'http.tls.minimumtls'],
  [{ version: '0.1', storage: { inmemory: {} }, http: { tls: { minimumtls: 'ssl3' } } }, 'http.tls.minimumtls'],
  [{ version: '0.1', storage: { inmemory: {} }, http: { tls: { certificate: '/c', key: '/k', clientcas: ['/ca'] } } }, 'http.tls.clientcas'],
  [{ version: '0.1', storage: { inmemory: {} }, regate: { tls: { generate: 'yes' } } }, 'regate.tls.generate'],
  [{ version: '0.1', storage: { inmemory: {} }, regate: { tls: { hosts: 'a' } } }, 'regate.tls.hosts'],
  [{ version: '0.1', storage: { inmemory: {} }, regate: { ping: ['/v2/'] } }, 'regate.ping'],
  [{ version: '0.1', storage: { inmemory: {} }, regate: { ping: ['/a/../b'] } }, 'regate.ping'],
  [{ version: '0.1', storage: { inmemory: {} }, regate: { ping: ['/%5fping'] } }, 'regate.ping'],
  [{ version: '0.1', storage: { inmemory: {} }, regate: { http: { headerstimeout: 30 } } }, 'regate.http.headerstimeout'],
  [{ version: '0.1', storage: { inmemory: {} }, regate: { http: { headerstimeout: '0' } } }, 'regate.http.headerstimeout'],
  [{ version: '0.1', storage: { inmemory: {} }, regate: { http: { idletimeout: '5 minutes' } } }, 'regate.http.idletimeout'],
  [{ version: '0.1', storage: { inmemory: {} }, regate: { auth: { maxfailures: 0 } } }, 'regate.auth.maxfailures'],
];
for (const [raw, key] of bad) {
  test(`invalid config names the key: ${key}`, () => {
    assert.throws(() => validateConfig(raw as Record<string, unknown>, 'test.yml', '/'), (e: unknown) => e instanceof ConfigError && e.key === key && e.message.includes(key));
  });
}

test('storage.swift: every Distribution key is read with its meaning; pre-authenticated needs no authurl', () => {
  const c = validateConfig(
    {
      version: '0.1',
      storage: {
        swift: {
          authurl: 'https://keystone.example/v3', username: 'u', password: 'p', container: 'c', region: 'RegionTwo',
          tenant: 't', tenantid: 'tid', domain: 'd', domainid: 'did', tenantdomain: 'td', tenantdomainid: 'tdid', trustid: 'tr',
          authversion: 3, endpointtype: 'internal', insecureskipverify: true, chunksize: 5242880, prefix: '/reg/',
          secretkey: 's', accesskey: 'a', tempurlcontainerkey: true, tempurlmethods: ['get', 'head'],
        },
      },
    },
    't',
    '/',
  );
  const o = c.storage!.swift!;
  assert.equal(o.authVersion, 3);
  assert.equal(o.endpointType, 'internal');
  assert.equal(o.region, 'RegionTwo');
  assert.equal(o.prefix, 'reg');
  assert.equal(o.chunkSize, 5242880);
  assert.equal(o.insecureSkipVerify, true);
  assert.deepEqual(o.tempUrlMethods, ['GET', 'HEAD']);
  assert.deepEqual([o.tenant, o.tenantId, o.domain, o.domainId, o.tenantDomain, o.tenantDomainId, o.trustId], ['t', 'tid', 'd', 'did', 'td', 'tdid', 'tr']);
  const pre = validateConfig({ version: '0.1', storage: { swift: { storageurl: 'http://s/v1/AUTH_x', authtoken: 'tok', container: 'c' } } }, 't', '/');
  assert.equal(pre.storage!.swift?.storageUrl, 'http://s/v1/AUTH_x');
  const app = validateConfig({ version: '0.1', storage: { swift: { authurl: 'http://k/v3', applicationcredentialid: 'id', applicationcredentialsecret: 'sec', container: 'c' } } }, 't', '/');
  assert.equal(app.storage!.swift?.applicationCredentialId, 'id');
});

test('a storage.swift error never echoes a secret', () => {
  assert.throws(
    () => validateConfig({ version: '0.1', storage: { swift: { authurl: 'http://x', username: 'u', password: 'hunter2-secret', container: 'c', chunksize: 'big' } } }, 't', '/'),
    (e: unknown) => e instanceof ConfigError && e.key === 'storage.swift.chunksize' && !e.message.includes('hunter2-secret'),
  );
});

test('unreadable and non-YAML files fail clearly', () => {
  assert.throws(() => loadConfig('/nonexistent/config.yml', {}), ConfigError);
  const dir = mkdtempSync(join(tmpdir(), 'regate-config-'));
  try {
    writeFileSync(join(dir, 'c.yml'), 'version: [unclosed\n');
    assert.throws(() => loadConfig(join(dir, 'c.yml'), {}), ConfigError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('storage.maintenance: Distribution defaults, readonly and upload purging', () => {
  const base = { version: '0.1', http: { addr: '127.0.0.1:0' } };
  const defaults = validateConfig({ ...base, storage: { inmemory: {} } }, 't.yml', '/');
  assert.equal(defaults.storage!.readOnly, false);
  assert.deepEqual(defaults.storage!.uploadPurging, { enabled: true, ageMs: 168 * 3600_000, intervalMs: 24 * 3600_000, dryRun: false });
  const custom = validateConfig(
    { ...base, storage: { inmemory: {}, maintenance: { readonly: { enabled: true }, uploadpurging: { enabled: false, age: '2h', interval: '30m', dryrun: true } } } },
    't.yml',
    '/',
  );
  assert.equal(custom.storage!.readOnly, true);
  assert.deepEqual(custom.storage!.uploadPurging, { enabled: false, ageMs: 7200_000, intervalMs: 1800_000, dryRun: true });
  for (const [maintenance, key] of [
    [{ uploadpurging: { age: 'soon' } }, 'storage.maintenance.uploadpurging.age'],
    [{ uploadpurging: { enabled: 'yes' } }, 'storage.maintenance.uploadpurging.enabled'],
    [{ readonly: { enabled: 1 } }, 'storage.maintenance.readonly.enabled'],
    [{ readonly: true }, 'storage.maintenance.readonly'],
  ] as const) {
    assert.throws(() => validateConfig({ ...base, storage: { inmemory: {}, maintenance } }, 't.yml', '/'), (e: unknown) => e instanceof ConfigError && e.key === key, key);
  }
});

test('storage.cache.blobdescriptor and redis: Distribution\'s keys, a misspelled one named', () => {
  const base = { version: '0.1', storage: { inmemory: {}, cache: { blobdescriptor: 'redis' } } };
  const c = validateConfig(
    { ...base, redis: { addr: 'localhost:6379', password: 'pw', db: 2, dialtimeout: '10ms', readtimeout: '20ms', writetimeout: '30ms', pool: { maxidle: 16, maxactive: 64, idletimeout: '300s' } } },
    't.yml',
    '/',
  );
  assert.deepEqual(c.storage?.cache, {
    blobDescriptor: 'redis',
    size: 10_000,
    redis: { addr: 'localhost:6379', password: 'pw', db: 2, dialTimeoutMs: 10, readTimeoutMs: 20, writeTimeoutMs: 30, tls: false },
  });
  assert.ok(!c.warnings.some((w) => w.startsWith('redis:')), 'redis is used, no "no effect" notice');
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...base, redis: { addr: 'localhost:6379', dialtimout: '1s' } }, /redis\.dialtimout/],
    [{ ...base, redis: { addr: 'localhost' } }, /redis\.addr/],
    [{ ...base }, /redis/],
    [{ ...base, redis: { addr: 'localhost:6379', pool: { maxidel: 1 } } }, /redis\.pool\.maxidel/],
    [{ version: '0.1', storage: { inmemory: {}, cache: { blobdescriptor: 'memcached' } } }, /storage\.cache\.blobdescriptor/],
    [{ version: '0.1', storage: { inmemory: {}, cache: { blobdesciptor: 'inmemory' } } }, /storage\.cache\.blobdesciptor/],
  ];
  for (const [raw, key] of refused) assert.throws(() => validateConfig(raw, 't.yml', '/'), key);
});

test('a misspelt storage.filesystem key is refused, naming it (it would store everything under the default root)', () => {
  assert.throws(
    () => validateConfig({ version: '0.1', storage: { filesystem: { rootdirectori: '/srv/registry' } } }, 't.yml', '/'),
    (e: unknown) => e instanceof ConfigError && e.key === 'storage.filesystem.rootdirectori' && /rootdirectory, maxthreads/.test(e.message),
  );
  const ok = validateConfig({ version: '0.1', storage: { filesystem: { rootdirectory: '/srv/registry', maxthreads: 100 } } }, 't.yml', '/');
  assert.equal(ok.storage?.parameters.rootdirectory, '/srv/registry');
});
