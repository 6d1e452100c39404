// `regate nginx import` as a pure translation: seed 004's site (the fixture) gives the upstream-mode
// config that stands where that nginx stood, and it validates; every other directive is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importNginxSite, NginxImportError } from '../../src/nginx-compat/import-site.js';
import { validateConfig } from '../../src/config/load-config.js';

const SEED_SITE = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/seeds/004-nginx-site.conf'), 'utf8');

test('seed 004: TLS files, htpasswd realm and file, the two pings without auth, the upstream, 900 s; everything else is built in', () => {
  const r = importNginxSite(SEED_SITE);
  assert.deepEqual(r.config, {
    version: '0.1',
    http: { addr: ':443', tls: { certificate: '/etc/ssl/certs/docker-registry.crt', key: '/etc/ssl/private/docker-registry.key' } },
    auth: { htpasswd: { realm: 'Restricted', path: 'docker-registry.htpasswd' } },
    regate: { ping: ['/_ping', '/v1/_ping'], upstream: { url: 'http://localhost:5000', idletimeout: '900s' } },
  });
  assert.deepEqual(r.untranslated, []);
  for (const d of ['chunkin on', 'ssl on', 'error_page 411 = @my_411_error', 'chunkin_resume (in location @my_411_error)']) assert.ok(r.builtIn.includes(d), d);
  assert.ok(r.builtIn.some((d) => d.startsWith('proxy_set_header Authorization')), 'Authorization cleared: regate drops it by default');
  assert.ok(r.warnings.some((w) => w.includes('docker-registry.htpasswd is relative')));
  // The generated config is one regate starts with (client_max_body_size 0: no blob limit).
  const c = validateConfig(r.config, 'generated', '/etc/nginx');
  assert.equal(c.upstream?.url, 'http://localhost:5000');
  assert.equal(c.upstream?.passAuthorization, false);
  assert.equal(c.upstream?.idleTimeoutMs, 900_000);
  assert.equal(c.regate.blobMaxBytes, 0);
  assert.deepEqual(c.regate.pingPaths, ['/_ping', '/v1/_ping']);
  assert.equal(c.auth?.htpasswd?.path, '/etc/nginx/docker-registry.htpasswd');
});

test('a site that does not clear Authorization keeps forwarding it; sizes and times in nginx units', () => {
  const r = importNginxSite(`
    server {
      listen 10.0.0.5:5443 ssl;
      ssl_certificate /c.pem; ssl_certificate_key /k.pem;
      ssl_protocols TLSv1 TLSv1.2 TLSv1.3;
      client_max_body_size 512m;
      location /v2/ { auth_basic "Reg"; auth_basic_user_file /etc/nginx/htpasswd; proxy_pass http://127.0.0.1:5000/; proxy_read_timeout 15m; }
    }`);
  assert.deepEqual(r.config, {
    version: '0.1',
    http: { addr: '10.0.0.5:5443', tls: { certificate: '/c.pem', key: '/k.pem', minimumtls: 'tls1.2' } },
    auth: { htpasswd: { realm: 'Reg', path: '/etc/nginx/htpasswd' } },
    regate: { blobmaxbytes: 512 * 1024 * 1024, upstream: { url: 'http://127.0.0.1:5000', passauthorization: true, idletimeout: '15m' } },
  });
  assert.ok(r.warnings.some((w) => w.includes('TLS 1.2 and 1.3 only')));
  assert.doesNotThrow(() => validateConfig(r.config, 'generated', '/'));
});

test('directives without a regate equivalent are listed, never dropped silently', () => {
  const r = importNginxSite(`
    upstream reg { server 10.0.0.1:5000; server 10.0.0.2:5000; keepalive 16; }
    server {
      listen 443 ssl http2;
      ssl_certificate /c; ssl_certificate_key /k;
      gzip on;
      add_header X-Frame-Options DENY;
      proxy_set_header X-Custom yes;
      location /static/ { root /srv; }
      location / { proxy_pass http://reg; }
    }`);
  assert.deepEqual(r.untranslated, [
    'keepalive 16 (in upstream reg)',
    'listen flags http2 (regate serves HTTP/1.1 on one address)',
    'gzip on',
    'add_header X-Frame-Options DENY',
    'proxy_set_header X-Custom yes',
    'location /static/ { … } (regate routes by the registry API)',
  ]);
  assert.equal((r.config.regate as { upstream: { url: string } }).upstream.url, 'http://10.0.0.1:5000');
  assert.ok(r.warnings.some((w) => w.includes('2 servers')));
  assert.ok(r.warnings.some((w) => w.includes('no auth_basic')));
  // nginx's default body limit (1m) stays a limit unless the site lifted it.
  assert.equal((r.config.regate as { blobmaxbytes: number }).blobmaxbytes, 1024 * 1024);
});

test('--embedded serves from storage; without a proxy_pass the site cannot become upstream mode; a broken site is a clear error', () => {
  const embedded = importNginxSite(SEED_SITE, { embedded: { rootdirectory: '/var/lib/regate' } });
  assert.deepEqual(embedded.config.storage, { filesystem: { rootdirectory: '/var/lib/regate' } });
  assert.equal((embedded.config.regate as Record<string, unknown>).upstream, undefined);
  assert.doesNotThrow(() => validateConfig(embedded.config, 'generated', '/'));
  assert.throws(() => importNginxSite('server { listen 80; }'), (e: unknown) => e instanceof NginxImportError && /no proxy_pass/.test(e.message));
  assert.throws(() => importNginxSite('upstream x { server a:1; }'), (e: unknown) => e instanceof NginxImportError && /no server block/.test(e.message));
  assert.throws(() => importNginxSite('server { location / { proxy_pass http://a; }'), (e: unknown) => e instanceof NginxImportError && /1 block is not closed/.test(e.message));
  assert.throws(() => importNginxSite('server { listen 80; }\n}'), (e: unknown) => e instanceof NginxImportError && /unexpected "}" on line 2/.test(e.message));
  assert.throws(() => importNginxSite('server { listen "80; }'), (e: unknown) => e instanceof NginxImportError && /unclosed quoted string/.test(e.message));
  // A brace inside a comment or a string is not a block.
  assert.doesNotThrow(() => importNginxSite('# a } in a comment\nserver { add_header X "{"; location / { proxy_pass http://a; } }'));
});
