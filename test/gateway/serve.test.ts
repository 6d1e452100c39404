// `regate serve` as an operator runs it (node dist/src/main.js in a temp working directory):
//   - with NO config file: TLS with a generated CA and auth with a generated admin password printed
//     once on stdout (never in the log on stderr); a restart reuses both and prints nothing;
//   - with a Distribution config.yml that has no http.tls and no auth: plain HTTP without auth, as
//     Distribution does, with a warning for each at start.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, REGATE_MAIN, spawnServer, type SpawnedServer } from '../support/processes.js';
import { send } from '../support/gateway.js';

/** Starts `regate serve ARGS` in `cwd`; by default on 127.0.0.1:0 through REGISTRY_HTTP_ADDR (a config file's addr otherwise). */
async function serve(cwd: string, args: string[] = []): Promise<SpawnedServer> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('REGISTRY_')) delete env[name];
  if (args.length === 0) env.REGISTRY_HTTP_ADDR = '127.0.0.1:0';
  return spawnServer({
    name: 'regate',
    command: process.execPath,
    args: [REGATE_MAIN, 'serve', ...args],
    cwd,
    env,
    ready: /listening on (https?):\/\/127\.0\.0\.1:(\d+)/,
  });
}

describe('no config file: TLS + auth by default', () => {
  let tmp: { path: string; remove(): void };
  let server: SpawnedServer | undefined;
  before(() => {
    tmp = makeTempDir('regate-serve-default-');
  });
  after(async () => {
    await server?.stop();
    tmp.remove();
  });

  let password = '';
  let port = 0;
  let ca = '';

  test('first start: https URL, generated CA, admin password printed once on stdout', async () => {
    // As a git checkout holds it: htpasswd/ with its README, 0755.
    mkdirSync(join(tmp.path, 'htpasswd'));
    chmodSync(join(tmp.path, 'htpasswd'), 0o755);
    writeFileSync(join(tmp.path, 'htpasswd', 'README.md'), '# htpasswd/\n');
    server = await serve(tmp.path);
    assert.equal(server.match[1], 'https');
    port = Number(server.match[2]);
    const stdout = server.stdout();
    const m = /^ {2}password: (\S+)$/m.exec(stdout);
    assert.ok(m, `stdout:\n${stdout}`);
    password = m[1]!;
    assert.match(password, /^[A-Za-z0-9_-]{32}$/);
    assert.match(stdout, /^ {2}user: {5}admin$/m);
    const htpasswd = join(tmp.path, 'htpasswd', 'htpasswd');
    assert.ok(stdout.includes(`created the users file ${htpasswd}`), stdout);
    // A hint that works from where regate was started: this temp directory is no checkout and
    // the test does not put regate on the PATH.
    assert.ok(stdout.includes(`change it with: node ${REGATE_MAIN} user passwd admin --file ${htpasswd}`), stdout);
    assert.equal(statSync(join(tmp.path, 'htpasswd')).mode & 0o777, 0o700, 'the checked-out htpasswd/ is tightened to 0700');
    const caPath = join(tmp.path, 'certs', 'ca.crt');
    assert.ok(stdout.includes(`CA certificate: ${caPath}`), stdout);
    assert.ok(stdout.includes(`sudo cp ${caPath} /etc/docker/certs.d/127.0.0.1:${port}/ca.crt`), stdout);
    assert.equal(statSync(htpasswd).mode & 0o777, 0o600);
    assert.equal(statSync(join(tmp.path, 'certs', 'server.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(tmp.path, 'certs', 'ca.key')).mode & 0o777, 0o600);

    const stderr = server.stderr();
    assert.ok(!stderr.includes(password), 'the password is not in the log');
    assert.ok(!stdout.includes('listening on'), 'the log goes to stderr');
    assert.match(stderr, /listening on https:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(stderr, /no TLS configured|no auth configured/);
    assert.doesNotMatch(stderr, / (warn|error) /);
    ca = readFileSync(caPath, 'utf8');
  });

  test('the CA verifies the server; GET /v2/ is 401 without and 200 with the printed password', async () => {
    const target = { https: true, port, ca };
    const anonymous = await send(target, 'GET', '/v2/');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.header('www-authenticate'), 'Basic realm="regate"');
    assert.equal((await send(target, 'GET', '/v2/', { auth: ['admin', password] })).status, 200);
    assert.equal((await send(target, 'GET', '/_ping')).status, 200);
  });

  test('a restart reuses the users file and the certificates and prints nothing', async () => {
    await server!.stop();
    const caBefore = readFileSync(join(tmp.path, 'certs', 'ca.crt'), 'utf8');
    server = await serve(tmp.path);
    port = Number(server.match[2]);
    assert.equal(server.stdout(), '', `stdout: ${server.stdout()}`);
    assert.equal(readFileSync(join(tmp.path, 'certs', 'ca.crt'), 'utf8'), caBefore);
    assert.equal((await send({ https: true, port, ca: caBefore }, 'GET', '/v2/', { auth: ['admin', password] })).status, 200);
    assert.ok(!server.output().includes(password));
  });
});

describe('a Distribution config without http.tls and auth', () => {
  let tmp: { path: string; remove(): void };
  let server: SpawnedServer | undefined;
  before(() => {
    tmp = makeTempDir('regate-serve-plain-');
  });
  after(async () => {
    await server?.stop();
    tmp.remove();
  });

  test('serves plain HTTP without auth, warning about both at start', async () => {
    const config = join(tmp.path, 'config.yml');
    writeFileSync(
      config,
      ['version: 0.1', 'log:', '  level: info', 'storage:', '  filesystem:', `    rootdirectory: ${join(tmp.path, 'root')}`, 'http:', '  addr: 127.0.0.1:0', ''].join('\n'),
    );
    server = await serve(tmp.path, ['--config', config]);
    assert.equal(server.match[1], 'http');
    const port = Number(server.match[2]);
    const stderr = server.stderr();
    assert.match(stderr, /warn no TLS configured \(http\.tls\): serving plain HTTP/);
    assert.match(stderr, /warn no auth configured \(auth\.htpasswd\): anyone who can reach this port/);
    assert.equal(server.stdout(), '');
    const res = await send({ https: false, port, ca: undefined }, 'GET', '/v2/');
    assert.equal(res.status, 200);
    assert.equal(res.header('docker-distribution-api-version'), 'registry/2.0');
    assert.ok(!existsSync(join(tmp.path, 'certs')), 'no certificates generated');
    assert.ok(!existsSync(join(tmp.path, 'htpasswd')), 'no users file created');
  });
});

describe('a Distribution config with auth.htpasswd but no TLS (seed 003 without its certificates)', () => {
  let tmp: { path: string; remove(): void };
  let server: SpawnedServer | undefined;
  before(() => {
    tmp = makeTempDir('regate-serve-auth-');
  });
  after(async () => {
    await server?.stop();
    tmp.remove();
  });

  test('creates the missing users file (password on stdout), serves HTTP with auth, warns about TLS only', async () => {
    const config = join(tmp.path, 'config.yml');
    writeFileSync(
      config,
      [
        'version: 0.1',
        'storage:',
        '  inmemory: {}',
        'auth:',
        '  htpasswd:',
        '    realm: basic-realm',
        `    path: ${join(tmp.path, 'auth', 'htpasswd')}`,
        'http:',
        '  addr: 127.0.0.1:0',
        '  headers:',
        '    X-Content-Type-Options: [nosniff]',
        '',
      ].join('\n'),
    );
    server = await serve(tmp.path, ['--config', config]);
    assert.equal(server.match[1], 'http');
    const port = Number(server.match[2]);
    const password = /password: (\S+)/.exec(server.stdout())?.[1];
    assert.ok(password, server.stdout());
    assert.match(server.stderr(), /no TLS configured/);
    assert.doesNotMatch(server.stderr(), /no auth configured/);
    const denied = await send({ https: false, port, ca: undefined }, 'GET', '/v2/');
    assert.equal(denied.status, 401);
    assert.equal(denied.header('www-authenticate'), 'Basic realm="basic-realm"');
    assert.equal(denied.header('x-content-type-options'), 'nosniff');
    assert.equal((await send({ https: false, port, ca: undefined }, 'GET', '/v2/', { auth: ['admin', password] })).status, 200);
  });
});
