// `regate serve` with http.debug (node dist/src/main.js in a temp working directory, plain HTTP on
// 127.0.0.1:0 for both listeners, the debug port read from the startup line as the main one is):
//   - /debug/health answers {} while the filesystem backend is healthy; when the root directory
//     turns into a symlink loop (every listing fails with ELOOP, as root cannot be kept out by
//     permissions) it answers 503 naming storagedriver_filesystem after `threshold` failed checks,
//     every registry request answers 503 UNAVAILABLE, /_ping still 200; then it recovers by itself;
//   - /metrics after a push and a pull: requests by route name, bytes, auth outcomes, htpasswd
//     reloads and parse failures, storage operations with latency, process metrics;
//   - uploads in flight while a slow body streams in; throttled credentials;
//   - prometheus disabled: /metrics is 404, /debug/health still served; a busy debug port: exit 2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { makeTempDir, REGATE_MAIN, runCommand, spawnServer, type SpawnedServer } from '../support/processes.js';
import { bytes, chunked, errorCode, eventually, htpasswdLine, pushImage, send, type Gateway, type Reply, type SendOptions } from '../support/gateway.js';

const READY = /debug listener on http:\/\/127\.0\.0\.1:(\d+)[^\n]*\n[\s\S]*listening on http:\/\/127\.0\.0\.1:(\d+)/;

/** The environment without REGISTRY_* overrides, so only the test's config file speaks. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('REGISTRY_')) delete env[name];
  return env;
}

async function serve(cwd: string, config: string): Promise<{ server: SpawnedServer; main: number; debug: number }> {
  const server = await spawnServer({ name: 'regate', command: process.execPath, args: [REGATE_MAIN, 'serve', '--config', config], cwd, env: cleanEnv(), ready: READY });
  return { server, debug: Number(server.match[1]), main: Number(server.match[2]) };
}

const plain = (port: number) => ({ https: false, port, ca: undefined });

/** The value of one sample in Prometheus text (labels matched exactly, in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(/,(?=[a-zA-Z_]+=")/).filter(Boolean).sort().join(',');
    if (have === wanted) return Number(m[3]);
  }
  return undefined;
}

describe('http.debug with prometheus and health.storagedriver on the filesystem driver', () => {
  let tmp: { path: string; remove(): void };
  let server: SpawnedServer | undefined;
  let main = 0;
  let debug = 0;
  let root = '';
  let htpasswd = '';
  const auth: [string, string] = ['alice', 'wonderland'];
  const api = (method: string, path: string, options: SendOptions = {}): Promise<Reply> => send(plain(main), method, path, options);
  const debugGet = (path: string): Promise<Reply> => send(plain(debug), 'GET', path);
  const metrics = async (): Promise<string> => {
    const reply = await debugGet('/metrics');
    assert.equal(reply.status, 200, reply.text());
    return reply.text();
  };

  before(async () => {
    tmp = makeTempDir('regate-debug-');
    root = join(tmp.path, 'root');
    htpasswd = join(tmp.path, 'htpasswd');
    writeFileSync(htpasswd, `${await htpasswdLine(...auth)}\n`, { mode: 0o600 });
    const config = join(tmp.path, 'config.yml');
    writeFileSync(
      config,
      [
        'version: 0.1',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${root}`,
        'http:',
        '  addr: 127.0.0.1:0',
        '  debug:',
        '    addr: 127.0.0.1:0',
        '    prometheus:',
        '      enabled: true',
        'auth:',
        '  htpasswd:',
        '    realm: test',
        `    path: ${htpasswd}`,
        'regate:',
        '  auth:',
        '    maxfailures: 2',
        'health:',
        '  storagedriver:',
        '    enabled: true',
        '    interval: 100ms',
        '    threshold: 3',
        '',
      ].join('\n'),
    );
    ({ server, main, debug } = await serve(tmp.path, config));
  });
  after(async () => {
    await server?.stop();
    tmp.remove();
  });

  test('the debug listener has a port of its own, logged at start; /debug/health is 200 {} while healthy', async () => {
    assert.notEqual(debug, main);
    assert.match(server!.stderr(), /debug listener on http:\/\/127\.0\.0\.1:\d+ \(\/debug\/health, Prometheus metrics at \/metrics\)/);
    const health = await debugGet('/debug/health');
    assert.equal(health.status, 200);
    assert.match(health.header('content-type') ?? '', /^application\/json/);
    assert.deepEqual(health.json(), {});
    // The debug paths are not on the main port, and registry paths are not on the debug port.
    assert.equal((await api('GET', '/debug/health')).status, 401);
    const notHere = await debugGet('/v2/');
    assert.equal(notHere.status, 404);
    assert.equal(errorCode(notHere), 'UNSUPPORTED');
    const post = await send(plain(debug), 'POST', '/debug/health', { body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(errorCode(post), 'UNSUPPORTED');
  });

  test('/_ping on the main port: 200 without auth, unchanged', async () => {
    const ping = await api('GET', '/_ping');
    assert.equal(ping.status, 200);
    assert.deepEqual(ping.json(), {});
    assert.equal(ping.header('docker-distribution-api-version'), 'registry/2.0');
  });

  test('/metrics after a push and a pull: routes, bytes, auth, htpasswd, storage operations, process', async () => {
    const gw = { send: api } as unknown as Gateway;
    const pushed = await pushImage(gw, 'team/app', 'v1', auth);
    const manifest = await api('GET', '/v2/team/app/manifests/v1', { auth, headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(manifest.status, 200);
    const layer = await api('GET', `/v2/team/app/blobs/${pushed.layerDigest}`, { auth });
    assert.equal(layer.status, 200);
    assert.ok(layer.body.equals(pushed.layer));
    assert.equal((await api('GET', '/v2/')).status, 401);
    assert.equal((await api('GET', '/v2/', { auth: ['alice', 'wrong'] })).status, 401);
    assert.equal((await api('GET', '/nowhere', { auth })).status, 404);

    // A response is counted when it finishes, which may be a moment after the client has it.
    let text = '';
    await eventually('the blob GET is counted', 5000, async () => {
      text = await metrics();
      return (sample(text, 'regate_http_requests_total', { route: 'blob', method: 'GET', code: '200' }) ?? 0) >= 1;
    });
    assert.equal(sample(text, 'regate_http_requests_total', { route: 'upload-start', method: 'POST', code: '202' }), 2, text);
    assert.equal(sample(text, 'regate_http_requests_total', { route: 'upload', method: 'PATCH', code: '202' }), 2);
    assert.equal(sample(text, 'regate_http_requests_total', { route: 'upload', method: 'PUT', code: '201' }), 2);
    assert.equal(sample(text, 'regate_http_requests_total', { route: 'manifest', method: 'PUT', code: '201' }), 1);
    assert.equal(sample(text, 'regate_http_requests_total', { route: 'manifest', method: 'GET', code: '200' }), 1);
    assert.equal(sample(text, 'regate_http_requests_total', { route: 'ping', method: 'GET', code: '200' }), 1);
    assert.equal(sample(text, 'regate_http_requests_total', { route: 'auth', method: 'GET', code: '401' }), 3);
    assert.equal(sample(text, 'regate_http_requests_total', { route: 'other', method: 'GET', code: '404' }), 1);
    // Route names only: no raw path, repository or digest ever becomes a label.
    assert.ok(!text.includes('team/app') && !text.includes(pushed.layerDigest.slice(7)), 'no raw paths in the labels');
    assert.equal(sample(text, 'regate_http_request_duration_seconds_count', { route: 'blob', method: 'GET' }), 1);
    assert.ok((sample(text, 'regate_http_request_duration_seconds_sum', { route: 'blob', method: 'GET' }) ?? -1) >= 0);

    assert.ok((sample(text, 'regate_http_received_bytes_total') ?? 0) >= pushed.layer.length + pushed.manifest.length, 'bytes in');
    assert.ok((sample(text, 'regate_http_sent_bytes_total') ?? 0) >= pushed.layer.length + pushed.manifest.length, 'bytes out');
    assert.equal(sample(text, 'regate_uploads_in_flight'), 0);

    assert.ok((sample(text, 'regate_auth_attempts_total', { outcome: 'success' }) ?? 0) >= 9, 'auth successes');
    assert.equal(sample(text, 'regate_auth_attempts_total', { outcome: 'failure' }), 1);
    assert.equal(sample(text, 'regate_auth_attempts_total', { outcome: 'missing' }), 2);
    assert.equal(sample(text, 'regate_auth_attempts_total', { outcome: 'throttled' }), 0);
    assert.equal(sample(text, 'regate_htpasswd_reloads_total'), 1);

    for (const operation of ['putContent', 'getContent', 'writer', 'writer.close', 'move', 'stat', 'list']) {
      assert.ok((sample(text, 'regate_storage_operations_total', { driver: 'filesystem', operation }) ?? 0) >= 1, `storage ${operation}`);
      assert.ok((sample(text, 'regate_storage_operation_duration_seconds_count', { driver: 'filesystem', operation }) ?? 0) >= 1, `latency ${operation}`);
    }
    // A manifest GET by tag and blob existence checks look for paths that may not exist yet.
    assert.ok(text.includes('regate_storage_operation_errors_total'));
    assert.equal(sample(text, 'regate_gc_runs_total'), 0);
    assert.equal(sample(text, 'regate_gc_freed_bytes_total'), 0);
    assert.ok(sample(text, 'process_cpu_seconds_total') !== undefined, 'process metrics');
    assert.ok(sample(text, 'nodejs_eventloop_lag_seconds') !== undefined, 'event loop metrics');
  });

  test('an upload body being received is an upload in flight until it ends', async () => {
    const start = await api('POST', '/v2/team/slow/blobs/uploads/', { auth });
    assert.equal(start.status, 202);
    const data = bytes(256 * 1024, 7);
    const patch = api('PATCH', start.header('location')!, { auth, body: chunked(data, 16 * 1024, 40), headers: { 'Content-Type': 'application/octet-stream' } });
    await eventually('the upload is in flight', 5000, async () => sample(await metrics(), 'regate_uploads_in_flight') === 1);
    assert.equal((await patch).status, 202);
    await eventually('the upload is no longer in flight', 5000, async () => sample(await metrics(), 'regate_uploads_in_flight') === 0);
  });

  test('throttled credentials are counted (regate.auth.maxfailures 2, from another client address)', async () => {
    const other = { auth: ['alice', 'guess'] as [string, string], localAddress: '127.0.0.2' };
    assert.equal((await api('GET', '/v2/', other)).status, 401);
    assert.equal((await api('GET', '/v2/', other)).status, 401);
    const refused = await api('GET', '/v2/', { ...other, auth });
    assert.equal(refused.status, 429);
    assert.equal(errorCode(refused), 'TOOMANYREQUESTS');
    let text = '';
    await eventually('the 429 is counted', 5000, async () => sample((text = await metrics()), 'regate_http_requests_total', { route: 'auth', method: 'GET', code: '429' }) === 1);
    assert.equal(sample(text, 'regate_auth_attempts_total', { outcome: 'throttled' }), 1);
    assert.equal(sample(text, 'regate_auth_attempts_total', { outcome: 'failure' }), 3);
  });

  test('an htpasswd parse failure is counted, and the reload that mends it', async () => {
    const good = `${await htpasswdLine(...auth)}\n`;
    writeFileSync(htpasswd, `${good}this line has no colon\n`);
    await eventually('the parse failure is counted', 10_000, async () => sample(await metrics(), 'regate_htpasswd_reload_failures_total', { reason: 'parse' }) === 1, 100);
    assert.equal((await api('GET', '/v2/', { auth })).status, 200, 'the last good users stay in service');
    writeFileSync(htpasswd, `${good}${await htpasswdLine('bob', 'builder')}\n`);
    await eventually('the reload is counted', 10_000, async () => sample(await metrics(), 'regate_htpasswd_reloads_total') === 2, 100);
  });

  test('a failing backend: /debug/health 503 after threshold failures, registry 503 UNAVAILABLE, /_ping 200; then it recovers', async () => {
    const before = sample(await metrics(), 'regate_storage_operation_errors_total', { driver: 'filesystem', operation: 'list', error: 'backend' }) ?? 0;
    // Root ignores permissions, so the root directory becomes a symlink to itself: ELOOP for everything.
    renameSync(root, `${root}.away`);
    symlinkSync(root, root);
    try {
      let health: Reply | undefined;
      await eventually('/debug/health turns 503', 10_000, async () => (health = await debugGet('/debug/health')).status === 503);
      const body = health!.json<Record<string, string>>();
      assert.deepEqual(Object.keys(body), ['storagedriver_filesystem']);
      assert.match(body.storagedriver_filesystem!, /ELOOP|symbolic links/i);
      // Not before `threshold` (3) checks had failed in a row.
      const failedChecks = (sample(await metrics(), 'regate_storage_operation_errors_total', { driver: 'filesystem', operation: 'list', error: 'backend' }) ?? 0) - before;
      assert.ok(failedChecks >= 3, `${failedChecks} failed checks`);
      assert.match(server!.stderr(), /storage backend unhealthy: answering 503 until it recovers/);

      for (const path of ['/v2/', '/v2/team/app/manifests/v1', '/v2/_catalog']) {
        const reply = await api('GET', path, { auth });
        assert.equal(reply.status, 503, `${path}: ${reply.text()}`);
        assert.equal(errorCode(reply), 'UNAVAILABLE');
        assert.match(JSON.stringify(reply.json()), /storage backend \(filesystem\) failed its health check/);
      }
      assert.equal((await api('GET', '/_ping')).status, 200, 'liveness is not readiness');
      const counted = await metrics();
      assert.ok((sample(counted, 'regate_http_requests_total', { route: 'base', method: 'GET', code: '503' }) ?? 0) >= 1);
    } finally {
      rmSync(root);
      renameSync(`${root}.away`, root);
    }
    await eventually('/debug/health is 200 {} again', 10_000, async () => {
      const health = await debugGet('/debug/health');
      return health.status === 200 && health.text() === '{}';
    });
    assert.equal((await api('GET', '/v2/team/app/manifests/v1', { auth, headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })).status, 200);
    assert.match(server!.stderr(), /storage backend healthy again/);
  });
});

test('a debug address already in use stops regate at start (exit 2), naming the problem', async () => {
  const tmp = makeTempDir('regate-debug-busy-');
  const blocker = createServer();
  try {
    await new Promise<void>((resolveListen) => blocker.listen(0, '127.0.0.1', resolveListen));
    const busy = (blocker.address() as AddressInfo).port;
    const config = join(tmp.path, 'config.yml');
    writeFileSync(config, ['version: 0.1', 'storage:', '  inmemory: {}', 'http:', '  addr: 127.0.0.1:0', '  debug:', `    addr: 127.0.0.1:${busy}`, ''].join('\n'));
    const result = await runCommand(process.execPath, [REGATE_MAIN, 'serve', '--config', config], { cwd: tmp.path, env: cleanEnv(), timeoutMs: 30_000 });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /cannot start: .*EADDRINUSE/);
    assert.doesNotMatch(result.stderr, /listening on/);
  } finally {
    await new Promise<void>((resolveClose) => blocker.close(() => resolveClose()));
    tmp.remove();
  }
});

describe('http.debug without prometheus', () => {
  let tmp: { path: string; remove(): void };
  let server: SpawnedServer | undefined;
  let debug = 0;
  let main = 0;
  before(async () => {
    tmp = makeTempDir('regate-debug-off-');
    const config = join(tmp.path, 'config.yml');
    writeFileSync(config, ['version: 0.1', 'storage:', '  inmemory: {}', 'http:', '  addr: 127.0.0.1:0', '  debug:', '    addr: 127.0.0.1:0', ''].join('\n'));
    ({ server, main, debug } = await serve(tmp.path, config));
  });
  after(async () => {
    await server?.stop();
    tmp.remove();
  });

  test('/metrics is 404; /debug/health is served ({} with no checks configured)', async () => {
    assert.match(server!.stderr(), /debug listener on http:\/\/127\.0\.0\.1:\d+ \(\/debug\/health\) \{/);
    const metrics = await send(plain(debug), 'GET', '/metrics');
    assert.equal(metrics.status, 404);
    assert.equal(errorCode(metrics), 'UNSUPPORTED');
    const health = await send(plain(debug), 'GET', '/debug/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json(), {});
    assert.equal((await send(plain(main), 'GET', '/v2/')).status, 200);
  });
});
